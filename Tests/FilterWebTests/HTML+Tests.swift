import FilterWeb
import Testing

@Suite struct HTMLTests {
    @Test func escapesMarkupAndQuotes() {
        #expect(HTML.escape(#"<script>alert("x")</script> & 'y'"#) == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;")
    }

    @Test func keepsOtherTextIncludingNonASCII() {
        #expect(HTML.escape("Grüße, 日本 — ok") == "Grüße, 日本 — ok")
    }
}

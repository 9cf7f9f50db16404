import FilterCore
import NIOCore
import NIOEmbedded
import Testing

@Suite struct AcceptedChannelsTests {
    /// `channel`, connected (so active, as an accepted connection is), wrapped as the
    /// servers' child-channel initializers wrap it.
    func wrapped(_ channel: NIOAsyncTestingChannel) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 25))
        return try await channel.eventLoop.submit {
            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
        }.get()
    }

    @Test func aChannelTheLoopNeverTookIsClosedWhenTheLoopEnds() async throws {
        let accepted = AcceptedChannels<ByteBuffer, ByteBuffer>()
        let channel = NIOAsyncTestingChannel()
        accepted.accepted(try await wrapped(channel))
        #expect(channel.isActive)
        accepted.acceptLoopEnded()
        try await channel.closeFuture.get()
        #expect(!channel.isActive)
    }

    @Test func aChannelAcceptedAfterTheLoopEndedIsClosedAtOnce() async throws {
        let accepted = AcceptedChannels<ByteBuffer, ByteBuffer>()
        accepted.acceptLoopEnded()
        let channel = NIOAsyncTestingChannel()
        accepted.accepted(try await wrapped(channel))
        try await channel.closeFuture.get()
        #expect(!channel.isActive)
    }

    @Test func aChannelTheLoopTookIsLeftToIt() async throws {
        let accepted = AcceptedChannels<ByteBuffer, ByteBuffer>()
        let channel = NIOAsyncTestingChannel()
        let connection = try await wrapped(channel)
        accepted.accepted(connection)
        accepted.take(connection)
        accepted.acceptLoopEnded()
        try await Task.sleep(for: .milliseconds(100))
        #expect(channel.isActive, "still open: the accept loop owns it")
        try await connection.executeThenClose { _, _ in }
        try await channel.closeFuture.get()
    }
}

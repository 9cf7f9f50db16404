// OpenSSL's libcrypto, for HMAC-SHA256 and SHA-256 in FilterProcessors (webhook signatures,
// output file names). Only these two headers: the rest of OpenSSL stays out of Swift's view.
#include <openssl/evp.h>
#include <openssl/hmac.h>

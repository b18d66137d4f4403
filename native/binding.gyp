# Builds uid2_native.node against the headers of the Node that runs node-gyp. OpenSSL comes from
# Node itself: its headers ship under Node's include dir and the node binary exports the symbols,
# so the addon links against nothing else.
{
  "targets": [
    {
      "target_name": "uid2_native",
      "sources": [
        "src/addon.cc",
        "src/aes.cc",
        "src/batch.cc",
        "src/file-lock.cc",
        "src/inline.cc",
        "src/snapshot.cc"
      ],
      "defines": ["NAPI_VERSION=8", "OPENSSL_API_COMPAT=30000", "OPENSSL_NO_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wshadow", "-Wconversion", "-Wno-sign-conversion"],
      "configurations": {
        "Release": {
          "cflags!": ["-O3"],
          "cflags_cc!": ["-O3"],
          "cflags": ["-O2"]
        }
      },
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_OPTIMIZATION_LEVEL": "2"
      }
    }
  ]
}

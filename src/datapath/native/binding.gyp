# binding.gyp — node-gyp build of sluice_io, Sluice's native code: sluice_io.cc (TAP/AF_PACKET shim) and sluice_uring.cc (TAP I/O on registered buffers, optional io_uring) and sluice_tunnel.cc (VXLAN underlay UDP/raw sockets).
# Built by scripts/build-native.mjs at install; output in ./build (ignored by git).
{
  "targets": [
    {
      "target_name": "sluice_io",
      "sources": ["sluice_io.cc", "sluice_uring.cc", "sluice_tunnel.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions", "-O3"],
      "cflags_cc!": ["-fno-exceptions", "-O3"],
      "cflags": ["-O2", "-Wall"],
      "cflags_cc": ["-O2", "-Wall", "-std=c++17"]
    }
  ]
}

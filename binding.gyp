{
  "targets": [
    {
      "target_name": "passive_rtt",
      "sources": [
        "src-native/addon.cc",
        "src-native/addr.cc",
        "src-native/capture.cc",
        "src-native/decode.cc",
        "src-native/engine.cc",
        "src-native/engine_thread.cc",
        "src-native/flow_table.cc",
        "src-native/mailbox.cc",
        "src-native/orient.cc",
        "src-native/pairs.cc",
        "src-native/pcap_api.cc",
        "src-native/sampler.cc",
        "src-native/worker.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-fno-omit-frame-pointer"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-flto=auto", "-fvisibility=hidden", "-fvisibility-inlines-hidden", "-Wall", "-Wextra"],
      "ldflags": ["-O3", "-flto=auto", "-Wl,--version-script=<(module_root_dir)/binding.map"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}

{
  "targets": [
    {
      "target_name": "vitnode",
      "sources": [
        "native/src/core/conv-weights.cc",
        "native/src/core/error.cc",
        "native/src/core/graph.cc",
        "native/src/core/plan.cc",
        "native/src/core/program.cc",
        "native/src/core/shape-check.cc",
        "native/src/core/weights.cc",
        "native/src/cpu/act.cc",
        "native/src/cpu/attention.cc",
        "native/src/cpu/backbone.cc",
        "native/src/cpu/dnnl-conv.cc",
        "native/src/cpu/dnnl-linear.cc",
        "native/src/cpu/eltwise.cc",
        "native/src/cpu/executor.cc",
        "native/src/cpu/glu.cc",
        "native/src/cpu/norm.cc",
        "native/src/cpu/resample.cc",
        "native/src/cpu/tokens.cc",
        "native/src/napi/addon.cc",
        "native/src/napi/graph-spec.cc",
        "native/src/napi/program.cc",
        "native/src/napi/weight-store.cc",
        "native/src/cuda-stub/cuda-stub.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/include",
        "native/src"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=x86-64-v3", "-fopenmp", "-fexceptions"],
      "ldflags": ["-fopenmp", "-Wl,-rpath,'$$ORIGIN'"],
      "libraries": ["-ldnnl", "-lgomp", "-ldl"]
    }
  ]
}

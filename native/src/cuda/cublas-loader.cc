// dlopen of libcublasLt + libcublas: $VITNODE_CUBLAS_DIR, then the loader's default search (LD_LIBRARY_PATH,
// ld.so.cache, rpath), then the pip wheel layouts (nvidia/cu13/lib, nvidia/cublas/lib) under the usual
// site-packages folders, then the CUDA toolkit folders. Major 13 first, then 12.
#include "cuda/cublas-loader.h"

#include <dlfcn.h>
#include <glob.h>

#include <cstdlib>
#include <mutex>

#include "vit/error.h"

namespace vit::cuda {

namespace {

std::vector<std::string> candidate_dirs() {
  std::vector<std::string> dirs;
  if (const char* d = std::getenv("VITNODE_CUBLAS_DIR"); d && *d) dirs.push_back(d);
  dirs.push_back("");  // default dlopen search
  std::vector<std::string> roots;
  for (const char* env : {"VIRTUAL_ENV", "CONDA_PREFIX"})
    if (const char* v = std::getenv(env); v && *v) roots.push_back(std::string(v) + "/lib/python3*/site-packages");
  if (const char* h = std::getenv("HOME"); h && *h) roots.push_back(std::string(h) + "/.local/lib/python3*/site-packages");
  for (const char* r : {"/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
                        "/usr/lib/python3/dist-packages", "/usr/lib/python3*/site-packages",
                        "/opt/conda/lib/python3*/site-packages", "/opt/venv/lib/python3*/site-packages"})
    roots.push_back(r);
  for (const auto& root : roots) {
    for (const char* sub : {"/nvidia/cu13/lib", "/nvidia/cublas/lib", "/nvidia/cu12/lib"}) {
      std::string pattern = root + sub;
      glob_t g{};
      if (glob(pattern.c_str(), 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) dirs.push_back(g.gl_pathv[i]);
      globfree(&g);
    }
  }
  for (const char* d : {"/usr/local/cuda/lib64", "/usr/local/cuda-13/lib64", "/usr/local/cuda-12/lib64",
                        "/usr/lib/x86_64-linux-gnu"})
    dirs.push_back(d);
  return dirs;
}

std::string join(const std::string& dir, const std::string& file) { return dir.empty() ? file : dir + "/" + file; }

template <typename F>
bool sym(void* lib, const char* name, F& fn, std::string* missing) {
  void* p = dlsym(lib, name);
  if (!p) {
    if (missing->size()) *missing += ", ";
    *missing += name;
    return false;
  }
  fn = reinterpret_cast<F>(p);
  return true;
}

struct Loaded {
  std::once_flag once;
  CublasApi api;
  bool ok = false;
  std::string why;
};
Loaded g_loaded;

void load() {
  std::string tried;
  for (int major : {13, 12}) {
    for (const auto& dir : candidate_dirs()) {
      const std::string lt_path = join(dir, "libcublasLt.so." + std::to_string(major));
      void* lt = dlopen(lt_path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!lt) {
        const char* e = dlerror();
        const std::string err = e ? e : "";
        tried += "\n  " + lt_path + ": " +
                 (err.empty() || err.find("No such file") != std::string::npos ? std::string("not found") : err);
        continue;
      }
      const std::string blas_path = join(dir, "libcublas.so." + std::to_string(major));
      void* blas = dlopen(blas_path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!blas) {
        const char* e = dlerror();
        tried += "\n  " + blas_path + ": " + (e ? e : "not loadable");
        dlclose(lt);
        continue;
      }
      CublasApi& a = g_loaded.api;
      std::string missing;
      bool ok = true;
      ok &= sym(lt, "cublasLtCreate", a.ltCreate, &missing);
      ok &= sym(lt, "cublasLtDestroy", a.ltDestroy, &missing);
      ok &= sym(lt, "cublasLtGetStatusString", a.ltGetStatusString, &missing);
      ok &= sym(lt, "cublasLtGetVersion", a.ltGetVersion, &missing);
      ok &= sym(lt, "cublasLtMatmulDescCreate", a.ltMatmulDescCreate, &missing);
      ok &= sym(lt, "cublasLtMatmulDescDestroy", a.ltMatmulDescDestroy, &missing);
      ok &= sym(lt, "cublasLtMatmulDescSetAttribute", a.ltMatmulDescSetAttribute, &missing);
      ok &= sym(lt, "cublasLtMatrixLayoutCreate", a.ltMatrixLayoutCreate, &missing);
      ok &= sym(lt, "cublasLtMatrixLayoutDestroy", a.ltMatrixLayoutDestroy, &missing);
      ok &= sym(lt, "cublasLtMatrixLayoutSetAttribute", a.ltMatrixLayoutSetAttribute, &missing);
      ok &= sym(lt, "cublasLtMatmulPreferenceCreate", a.ltMatmulPreferenceCreate, &missing);
      ok &= sym(lt, "cublasLtMatmulPreferenceDestroy", a.ltMatmulPreferenceDestroy, &missing);
      ok &= sym(lt, "cublasLtMatmulPreferenceSetAttribute", a.ltMatmulPreferenceSetAttribute, &missing);
      ok &= sym(lt, "cublasLtMatmulAlgoGetHeuristic", a.ltMatmulAlgoGetHeuristic, &missing);
      ok &= sym(lt, "cublasLtMatmul", a.ltMatmul, &missing);
      ok &= sym(blas, "cublasCreate_v2", a.create, &missing);
      ok &= sym(blas, "cublasDestroy_v2", a.destroy, &missing);
      ok &= sym(blas, "cublasSetStream_v2", a.setStream, &missing);
      ok &= sym(blas, "cublasSetWorkspace_v2", a.setWorkspace, &missing);
      ok &= sym(blas, "cublasSetMathMode", a.setMathMode, &missing);
      ok &= sym(blas, "cublasGetStatusString", a.getStatusString, &missing);
      ok &= sym(blas, "cublasGemmBatchedEx", a.gemmBatchedEx, &missing);
      if (!ok) {
        tried += "\n  " + lt_path + ": missing symbols " + missing;
        a = CublasApi{};
        dlclose(blas);
        dlclose(lt);
        continue;
      }
      a.lt_path = lt_path;
      a.blas_path = blas_path;
      a.lt_version = a.ltGetVersion();
      g_loaded.ok = true;
      return;  // the handles stay open for the life of the process
    }
  }
  g_loaded.why = "cuBLAS not found (libcublasLt.so.13 / .12 and libcublas.so.13 / .12); set VITNODE_CUBLAS_DIR to "
                 "the folder holding them (pip: nvidia-cublas, site-packages/nvidia/cu13/lib). Looked at:" + tried;
}

}  // namespace

std::vector<std::string> cublas_search_list() {
  std::vector<std::string> out;
  for (const auto& d : candidate_dirs()) out.push_back(d.empty() ? "(default library search path)" : d);
  return out;
}

const CublasApi* cublas_try_load(std::string* why) {
  std::call_once(g_loaded.once, load);
  if (!g_loaded.ok) {
    if (why) *why = g_loaded.why;
    return nullptr;
  }
  return &g_loaded.api;
}

const CublasApi& cublas_api() {
  std::string why;
  const CublasApi* a = cublas_try_load(&why);
  if (!a) fail(ErrorCode::Cuda, why);
  return *a;
}

}  // namespace vit::cuda

// cuBLAS / cuBLASLt calls. Row-major tensors are handed to the column-major BLAS as their transposes:
// Y[M,N] = X[M,K] W[N,K]^T  <=>  Y^T (N x M, ld N) = W (K x N stored, op T) * X^T (K x M, ld K).
#include <cstdlib>
#include <map>
#include <mutex>

#include "cuda/common.cuh"
#include "cuda/gemm.cuh"

namespace vit::cuda {

namespace {

cudaDataType_t cuda_type(DType t) { return t == DType::F32 ? CUDA_R_32F : t == DType::F16 ? CUDA_R_16F : CUDA_R_16BF; }

std::string status_text(const CublasApi& api, cublasStatus_t st) {
  const char* s = api.ltGetStatusString ? api.ltGetStatusString(st) : nullptr;
  return "cuBLAS status " + std::to_string(st) + (s ? std::string(" (") + s + ")" : std::string());
}

}  // namespace

#define VIT_CUBLAS_CHECK(api, stmt, what)                                                                    \
  do {                                                                                                       \
    cublasStatus_t vit_st_ = (stmt);                                                                         \
    if (vit_st_ != CUBLAS_STATUS_SUCCESS)                                                                    \
      ::vit::fail(::vit::ErrorCode::Cuda, std::string(what) + ": " + status_text(api, vit_st_) + " in `" #stmt "`"); \
  } while (0)

cublasLtHandle_t lt_handle_create() {
  const CublasApi& api = cublas_api();
  cublasLtHandle_t h = nullptr;
  VIT_CUBLAS_CHECK(api, api.ltCreate(&h), "creating the cuBLASLt handle");
  return h;
}

void lt_handle_destroy(cublasLtHandle_t h) noexcept {
  if (h) (void)cublas_api().ltDestroy(h);
}

cublasHandle_t blas_handle_create(void* workspace, size_t bytes, bool tf32) {
  const CublasApi& api = cublas_api();
  cublasHandle_t h = nullptr;
  VIT_CUBLAS_CHECK(api, api.create(&h), "creating the cuBLAS handle");
  cublasStatus_t st = api.setWorkspace(h, workspace, bytes);
  if (st == CUBLAS_STATUS_SUCCESS) st = api.setMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
  if (st != CUBLAS_STATUS_SUCCESS) {
    (void)api.destroy(h);
    fail(ErrorCode::Cuda, "configuring the cuBLAS handle: " + status_text(api, st));
  }
  return h;
}

void blas_handle_destroy(cublasHandle_t h) noexcept {
  if (h) (void)cublas_api().destroy(h);
}

LinearGemm::LinearGemm(cublasLtHandle_t lt, DType dtype, bool tf32, int64_t m, int64_t n, int64_t k, bool bias,
                       bool residual, size_t workspace_bytes, const std::string& what, bool gelu_tanh)
    : api_(cublas_api()), lt_(lt), bias_(bias), residual_(residual) {
  what_ = what + " (GEMM [" + std::to_string(m) + "," + std::to_string(k) + "] x [" + std::to_string(n) + "," +
          std::to_string(k) + "]^T, " + dtype_name(dtype) + (tf32 && dtype == DType::F32 ? ", tf32" : "") + ")";
  const cudaDataType_t t = cuda_type(dtype);
  const cublasComputeType_t ct = (dtype == DType::F32 && tf32) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  try {
    VIT_CUBLAS_CHECK(api_, api_.ltMatmulDescCreate(&desc_, ct, CUDA_R_32F), what_);
    const int32_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    VIT_CUBLAS_CHECK(api_, api_.ltMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), what_);
    VIT_CUBLAS_CHECK(api_, api_.ltMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), what_);
    const uint32_t epi = gelu_tanh ? (bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU)
                                   : (bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT);
    VIT_CUBLAS_CHECK(api_, api_.ltMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)), what_);
    if (bias) {
      const int32_t bt = t;  // bias in the model dtype, like the output
      VIT_CUBLAS_CHECK(api_, api_.ltMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof(bt)),
                       what_);
    }
    // A = W stored K x N (ld K), used transposed; B = X^T stored K x M (ld K); C = D = Y^T N x M (ld N).
    VIT_CUBLAS_CHECK(api_, api_.ltMatrixLayoutCreate(&a_, t, k, n, k), what_);
    VIT_CUBLAS_CHECK(api_, api_.ltMatrixLayoutCreate(&b_, t, k, m, k), what_);
    VIT_CUBLAS_CHECK(api_, api_.ltMatrixLayoutCreate(&c_, t, n, m, n), what_);
    cublasLtMatmulPreference_t pref = nullptr;
    VIT_CUBLAS_CHECK(api_, api_.ltMatmulPreferenceCreate(&pref), what_);
    const uint64_t wsb = workspace_bytes;
    cublasStatus_t st =
        api_.ltMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof(wsb));
    cublasLtMatmulHeuristicResult_t res[kCandidates] = {};
    int found = 0;
    if (st == CUBLAS_STATUS_SUCCESS)
      st = api_.ltMatmulAlgoGetHeuristic(lt_, desc_, a_, b_, c_, c_, pref, kCandidates, res, &found);
    (void)api_.ltMatmulPreferenceDestroy(pref);
    VIT_CUBLAS_CHECK(api_, st, what_ + ": algorithm heuristic");
    for (int i = 0; i < found; ++i)
      if (res[i].state == CUBLAS_STATUS_SUCCESS) cands_.push_back({res[i].algo, res[i].workspaceSize});
    if (cands_.empty()) fail(ErrorCode::Cuda, what_ + ": cuBLASLt has no algorithm for this shape/dtype on this device");
    algo_ = cands_[0].algo;  // the heuristic's first choice unless tune() measures a faster one
    ws_ = cands_[0].ws;
    int dev = 0;
    (void)cudaGetDevice(&dev);
    key_ = std::to_string(dev) + ":" + std::to_string(static_cast<int>(dtype)) + (tf32 ? "t" : "") + ":" +
           std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + (bias ? "b" : "") +
           (residual ? "r" : "") + (gelu_tanh ? "g" : "");
  } catch (...) {
    release();
    throw;
  }
}

LinearGemm::~LinearGemm() { release(); }

namespace {
std::mutex g_tuned_mu;
std::map<std::string, std::pair<cublasLtMatmulAlgo_t, size_t>> g_tuned;  // per process: shape key -> winner
}  // namespace

void LinearGemm::tune(const void* x, const void* w, const void* bias, const void* residual, void* y, void* workspace) {
  if (cands_.size() < 2) return;
  {
    std::lock_guard<std::mutex> lock(g_tuned_mu);
    auto it = g_tuned.find(key_);
    if (it != g_tuned.end()) {
      algo_ = it->second.first;
      ws_ = it->second.second;
      return;
    }
  }
  // Times every candidate on the real operands (the arena's contents do not matter for speed) on a private
  // stream; any candidate that fails is skipped, and the heuristic's first choice stays when none measures.
  cudaStream_t s = nullptr;
  cudaEvent_t e0 = nullptr, e1 = nullptr;
  if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess || cudaEventCreate(&e0) != cudaSuccess ||
      cudaEventCreate(&e1) != cudaSuccess) {
    if (e0) (void)cudaEventDestroy(e0);
    if (s) (void)cudaStreamDestroy(s);
    (void)cudaGetLastError();
    return;
  }
  if (bias_)
    (void)api_.ltMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias));
  const float alpha = 1.f, beta = residual_ ? 1.f : 0.f;
  const void* c = residual_ ? residual : y;
  float best = 0;
  int best_i = -1;
  for (size_t i = 0; i < cands_.size(); ++i) {
    const auto& cd = cands_[i];
    auto launch = [&] {
      return api_.ltMatmul(lt_, desc_, &alpha, w, a_, x, b_, &beta, c, c_, y, c_, &cd.algo, workspace, cd.ws, s);
    };
    if (launch() != CUBLAS_STATUS_SUCCESS || cudaStreamSynchronize(s) != cudaSuccess) {  // warm-up
      (void)cudaGetLastError();
      continue;
    }
    bool ok = cudaEventRecord(e0, s) == cudaSuccess;
    for (int r = 0; ok && r < kTuneReps; ++r) ok = launch() == CUBLAS_STATUS_SUCCESS;
    ok = ok && cudaEventRecord(e1, s) == cudaSuccess && cudaEventSynchronize(e1) == cudaSuccess;
    float ms = 0;
    ok = ok && cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess;
    if (!ok) {
      (void)cudaStreamSynchronize(s);
      (void)cudaGetLastError();
      continue;
    }
    if (best_i < 0 || ms < best * 0.98f) {  // the heuristic's order breaks near-ties
      best = ms;
      best_i = static_cast<int>(i);
    }
  }
  (void)cudaEventDestroy(e0);
  (void)cudaEventDestroy(e1);
  (void)cudaStreamDestroy(s);
  (void)cudaGetLastError();
  if (best_i < 0) return;
  algo_ = cands_[best_i].algo;
  ws_ = cands_[best_i].ws;
  std::lock_guard<std::mutex> lock(g_tuned_mu);
  g_tuned[key_] = {algo_, ws_};
}

void LinearGemm::release() noexcept {
  if (c_) (void)api_.ltMatrixLayoutDestroy(c_);
  if (b_) (void)api_.ltMatrixLayoutDestroy(b_);
  if (a_) (void)api_.ltMatrixLayoutDestroy(a_);
  if (desc_) (void)api_.ltMatmulDescDestroy(desc_);
  c_ = b_ = a_ = nullptr;
  desc_ = nullptr;
}

void LinearGemm::run(cudaStream_t s, const void* x, const void* w, const void* bias, const void* residual, void* y,
                     void* workspace) const {
  if (bias_)
    VIT_CUBLAS_CHECK(api_, api_.ltMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)),
                     what_);
  const float alpha = 1.f, beta = residual_ ? 1.f : 0.f;
  VIT_CUBLAS_CHECK(api_,
                   api_.ltMatmul(lt_, desc_, &alpha, w, a_, x, b_, &beta, residual_ ? residual : y, c_, y, c_, &algo_,
                                 workspace, ws_, s),
                   what_);
}

ConvGemm::ConvGemm(cublasLtHandle_t lt, DType dtype, bool tf32, int64_t p, int64_t o, int64_t k, int64_t batch,
                   bool residual, uint32_t align, size_t workspace_bytes, const std::string& what)
    : api_(cublas_api()), lt_(lt), residual_(residual) {
  what_ = what + " (conv GEMM [" + std::to_string(o) + "," + std::to_string(k) + "] x [" + std::to_string(k) + "," +
          std::to_string(p) + "] x " + std::to_string(batch) + " items, " + dtype_name(dtype) +
          (tf32 && dtype == DType::F32 ? ", tf32" : "") + ", align " + std::to_string(align) + ")";
  const cudaDataType_t t = cuda_type(dtype);
  const cublasComputeType_t ct = (dtype == DType::F32 && tf32) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  try {
    VIT_CUBLAS_CHECK(api_, api_.ltMatmulDescCreate(&desc_, ct, CUDA_R_32F), what_);
    // D[p, o] = sum_k A[p, k] B[k, o]: A = col_b (row-major [K, P] = col-major P x K, ld P), B = W (row-major
    // [O, K] = col-major K x O, ld K), both as stored (op N); D = Y_b (row-major [O, P] = col-major P x O).
    const int32_t ta = CUBLAS_OP_N, tb = CUBLAS_OP_N;
    VIT_CUBLAS_CHECK(api_, api_.ltMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), what_);
    VIT_CUBLAS_CHECK(api_, api_.ltMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), what_);
    VIT_CUBLAS_CHECK(api_, api_.ltMatrixLayoutCreate(&a_, t, p, k, p), what_);
    VIT_CUBLAS_CHECK(api_, api_.ltMatrixLayoutCreate(&b_, t, k, o, k), what_);
    VIT_CUBLAS_CHECK(api_, api_.ltMatrixLayoutCreate(&c_, t, p, o, p), what_);
    VIT_CHECK(batch >= 1 && batch <= INT32_MAX, Internal, what_ + ": bad batch count");
    if (batch > 1) {
      // Strided batch; W's stride 0 broadcasts it to every item (C and D share c_: R and Y step alike).
      const int32_t n = static_cast<int32_t>(batch);
      const int64_t strides[3] = {k * p, 0, o * p};
      cublasLtMatrixLayout_t layouts[3] = {a_, b_, c_};
      for (int i = 0; i < 3; ++i) {
        VIT_CUBLAS_CHECK(api_,
                         api_.ltMatrixLayoutSetAttribute(layouts[i], CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &n, sizeof(n)),
                         what_);
        VIT_CUBLAS_CHECK(api_,
                         api_.ltMatrixLayoutSetAttribute(layouts[i], CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                         &strides[i], sizeof(strides[i])),
                         what_);
      }
    }
    cublasLtMatmulPreference_t pref = nullptr;
    VIT_CUBLAS_CHECK(api_, api_.ltMatmulPreferenceCreate(&pref), what_);
    const uint64_t wsb = workspace_bytes;
    cublasStatus_t st =
        api_.ltMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof(wsb));
    for (int attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                     CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
      if (st == CUBLAS_STATUS_SUCCESS) st = api_.ltMatmulPreferenceSetAttribute(pref, attr, &align, sizeof(align));
    cublasLtMatmulHeuristicResult_t res[1] = {};
    int found = 0;
    if (st == CUBLAS_STATUS_SUCCESS) st = api_.ltMatmulAlgoGetHeuristic(lt_, desc_, a_, b_, c_, c_, pref, 1, res, &found);
    (void)api_.ltMatmulPreferenceDestroy(pref);
    VIT_CUBLAS_CHECK(api_, st, what_ + ": algorithm heuristic");
    if (found < 1 || res[0].state != CUBLAS_STATUS_SUCCESS)
      fail(ErrorCode::Cuda, what_ + ": cuBLASLt has no algorithm for this shape/dtype on this device");
    algo_ = res[0].algo;
    ws_ = res[0].workspaceSize;
  } catch (...) {
    release();
    throw;
  }
}

ConvGemm::~ConvGemm() { release(); }

void ConvGemm::release() noexcept {
  if (c_) (void)api_.ltMatrixLayoutDestroy(c_);
  if (b_) (void)api_.ltMatrixLayoutDestroy(b_);
  if (a_) (void)api_.ltMatrixLayoutDestroy(a_);
  if (desc_) (void)api_.ltMatmulDescDestroy(desc_);
  c_ = b_ = a_ = nullptr;
  desc_ = nullptr;
}

void ConvGemm::run(cudaStream_t s, const void* col, const void* w, const void* residual, void* y,
                   void* workspace) const {
  const float alpha = 1.f, beta = residual_ ? 1.f : 0.f;
  VIT_CUBLAS_CHECK(api_,
                   api_.ltMatmul(lt_, desc_, &alpha, col, a_, w, b_, &beta, residual_ ? residual : y, c_, y, c_, &algo_,
                                 workspace, ws_, s),
                   what_);
}

void gemm_batched(cublasHandle_t h, cudaStream_t s, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                  const void* const* a, int lda, const void* const* b, int ldb, float beta, void* const* c, int ldc,
                  int batch, DType ab, DType c_type, bool tf32, const std::string& what) {
  const CublasApi& api = cublas_api();
  const std::string w = what + " (batched GEMM m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" +
                        std::to_string(k) + " lda=" + std::to_string(lda) + " ldb=" + std::to_string(ldb) +
                        " ldc=" + std::to_string(ldc) + " batch=" + std::to_string(batch) + ")";
  VIT_CUBLAS_CHECK(api, api.setStream(h, s), w);
  const cublasComputeType_t ct = (ab == DType::F32 && tf32) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  VIT_CUBLAS_CHECK(api,
                   api.gemmBatchedEx(h, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, m, n,
                                     k, &alpha, a, cuda_type(ab), lda, b, cuda_type(ab), ldb, &beta, c,
                                     cuda_type(c_type), ldc, batch, ct, CUBLAS_GEMM_DEFAULT),
                   w);
}

}  // namespace vit::cuda

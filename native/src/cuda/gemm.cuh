// Every cuBLAS / cuBLASLt call lives in gemm.cu: the row-major <-> column-major swap, descriptor setup,
// algorithm selection (once, at program build) and errors naming the op, shapes and strides.
#pragma once
#include <string>
#include <vector>

#include "cuda/cublas-loader.h"
#include "vit/program.h"

namespace vit::cuda {

// Row-major Y[M,N] = X[M,K] . W[N,K]^T (+ bias[N]) (+ R[M,N]), all in `dtype`, float32 accumulation
// (TF32 tensor cores when tf32 and dtype is float32). cuBLASLt: bias is its BIAS epilogue, R its C matrix
// with beta = 1, so Linear + bias + residual is one kernel.
class LinearGemm {
 public:
  // gelu_tanh: cuBLASLt's GELU epilogue (the tanh approximation, after the bias), for act_layer 'gelu_tanh' only.
  LinearGemm(cublasLtHandle_t lt, DType dtype, bool tf32, int64_t m, int64_t n, int64_t k, bool bias, bool residual,
             size_t workspace_bytes, const std::string& what, bool gelu_tanh = false);
  ~LinearGemm();
  LinearGemm(const LinearGemm&) = delete;
  LinearGemm& operator=(const LinearGemm&) = delete;
  void run(cudaStream_t s, const void* x, const void* w, const void* bias, const void* residual, void* y,
           void* workspace) const;
  // Measures the heuristic's candidates on these operands (synchronously, on a private stream) and keeps the
  // fastest; the winner is remembered per process for the same device, dtype, shape and epilogue. Call at
  // program build, never while a stream is being captured.
  void tune(const void* x, const void* w, const void* bias, const void* residual, void* y, void* workspace);

 private:
  static constexpr int kCandidates = 8, kTuneReps = 3;
  struct Candidate {
    cublasLtMatmulAlgo_t algo;
    size_t ws;
  };
  void release() noexcept;
  const CublasApi& api_;
  cublasLtHandle_t lt_;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, c_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
  size_t ws_ = 0;
  std::vector<Candidate> cands_;
  std::string key_;
  bool bias_, residual_;
  std::string what_;
};

// Conv2d as GEMM straight into NCHW, `batch` items per call (one strided-batched cuBLASLt matmul):
// Y_b[O, P] = W[O, K] . col_b[K, P] (+ R_b[O, P]), col_b row-major [K, P] (im2col, or x_b itself for a 1x1
// stride-1 unpadded conv: then K = C and P = H*W, so both sources step K*P elements per item). Column-major
// view: D_b (P x O, ld P) = col_b (P x K, ld P) . W^T (K x O, ld K); batch strides K*P for col, O*P for R and
// Y, 0 for W (every item shares it). `align`: the largest power of two (<= 256) dividing every per-item
// pointer (cuBLASLt assumes 256 otherwise). The bias is not an epilogue here (it runs along O, the column
// dimension): the caller adds it.
class ConvGemm {
 public:
  ConvGemm(cublasLtHandle_t lt, DType dtype, bool tf32, int64_t p, int64_t o, int64_t k, int64_t batch, bool residual,
           uint32_t align, size_t workspace_bytes, const std::string& what);
  ~ConvGemm();
  ConvGemm(const ConvGemm&) = delete;
  ConvGemm& operator=(const ConvGemm&) = delete;
  // col, residual and y point at the first of the `batch` items.
  void run(cudaStream_t s, const void* col, const void* w, const void* residual, void* y, void* workspace) const;

 private:
  void release() noexcept;
  const CublasApi& api_;
  cublasLtHandle_t lt_;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, c_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
  size_t ws_ = 0;
  bool residual_;
  std::string what_;
};

cublasLtHandle_t lt_handle_create();
void lt_handle_destroy(cublasLtHandle_t h) noexcept;
cublasHandle_t blas_handle_create(void* workspace, size_t bytes, bool tf32);
void blas_handle_destroy(cublasHandle_t h) noexcept;

// Batched column-major GEMM over pointer arrays (device memory): C_i = alpha op(A_i) op(B_i) + beta C_i.
// A and B in `ab`, C in `c` (float32 or the model dtype).
void gemm_batched(cublasHandle_t h, cudaStream_t s, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                  const void* const* a, int lda, const void* const* b, int ldb, float beta, void* const* c, int ldc,
                  int batch, DType ab, DType c_type, bool tf32, const std::string& what);

}  // namespace vit::cuda

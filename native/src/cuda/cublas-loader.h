// cuBLAS / cuBLASLt loaded at run time with dlopen, so one .node runs on machines without them. Only the
// handful of entry points gemm.cu uses are declared here (values from cuBLAS 12/13's public headers; the ABI
// of these calls is the same in both majors).
#pragma once
#include <cuda_runtime.h>
#include <library_types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vit::cuda {

using cublasStatus_t = int;
constexpr cublasStatus_t CUBLAS_STATUS_SUCCESS = 0;
struct cublasContext;
struct cublasLtContext;
struct cublasLtMatmulDescOpaque;
struct cublasLtMatrixLayoutOpaque;
struct cublasLtMatmulPreferenceOpaque;
using cublasHandle_t = cublasContext*;
using cublasLtHandle_t = cublasLtContext*;
using cublasLtMatmulDesc_t = cublasLtMatmulDescOpaque*;
using cublasLtMatrixLayout_t = cublasLtMatrixLayoutOpaque*;
using cublasLtMatmulPreference_t = cublasLtMatmulPreferenceOpaque*;

enum cublasOperation_t : int { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum cublasComputeType_t : int { CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_FAST_TF32 = 77 };
enum cublasMath_t : int { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3 };
enum cublasGemmAlgo_t : int { CUBLAS_GEMM_DEFAULT = -1 };
// cublasLtMatmulDescAttributes_t
enum : int {
  CUBLASLT_MATMUL_DESC_TRANSA = 3,
  CUBLASLT_MATMUL_DESC_TRANSB = 4,
  CUBLASLT_MATMUL_DESC_EPILOGUE = 7,
  CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8,
  CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE = 26,
};
// cublasLtEpilogue_t (uint32_t)
enum : uint32_t { CUBLASLT_EPILOGUE_DEFAULT = 1, CUBLASLT_EPILOGUE_BIAS = 4, CUBLASLT_EPILOGUE_GELU = 32,
                  CUBLASLT_EPILOGUE_GELU_BIAS = 36 };
// cublasLtMatrixLayoutAttribute_t
enum : int {
  CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT = 5,           // int32_t, default 1
  CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET = 6,  // int64_t elements, default 0
};
// cublasLtMatmulPreferenceAttributes_t
enum : int {
  CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,
  CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,  // uint32_t, default 256
  CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6,
  CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
  CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8,
};

struct cublasLtMatmulAlgo_t {
  uint64_t data[8];
};
struct cublasLtMatmulHeuristicResult_t {
  cublasLtMatmulAlgo_t algo;
  size_t workspaceSize;
  cublasStatus_t state;
  float wavesCount;
  int reserved[4];
};

struct CublasApi {
  std::string lt_path, blas_path;  // the files actually loaded
  size_t lt_version = 0;

  // cuBLASLt
  cublasStatus_t (*ltCreate)(cublasLtHandle_t*) = nullptr;
  cublasStatus_t (*ltDestroy)(cublasLtHandle_t) = nullptr;
  const char* (*ltGetStatusString)(cublasStatus_t) = nullptr;
  size_t (*ltGetVersion)() = nullptr;
  cublasStatus_t (*ltMatmulDescCreate)(cublasLtMatmulDesc_t*, cublasComputeType_t, cudaDataType_t) = nullptr;
  cublasStatus_t (*ltMatmulDescDestroy)(cublasLtMatmulDesc_t) = nullptr;
  cublasStatus_t (*ltMatmulDescSetAttribute)(cublasLtMatmulDesc_t, int, const void*, size_t) = nullptr;
  cublasStatus_t (*ltMatrixLayoutCreate)(cublasLtMatrixLayout_t*, cudaDataType_t, uint64_t, uint64_t,
                                         int64_t) = nullptr;
  cublasStatus_t (*ltMatrixLayoutDestroy)(cublasLtMatrixLayout_t) = nullptr;
  cublasStatus_t (*ltMatrixLayoutSetAttribute)(cublasLtMatrixLayout_t, int, const void*, size_t) = nullptr;
  cublasStatus_t (*ltMatmulPreferenceCreate)(cublasLtMatmulPreference_t*) = nullptr;
  cublasStatus_t (*ltMatmulPreferenceDestroy)(cublasLtMatmulPreference_t) = nullptr;
  cublasStatus_t (*ltMatmulPreferenceSetAttribute)(cublasLtMatmulPreference_t, int, const void*, size_t) = nullptr;
  cublasStatus_t (*ltMatmulAlgoGetHeuristic)(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t,
                                             cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                             cublasLtMatmulPreference_t, int, cublasLtMatmulHeuristicResult_t*,
                                             int*) = nullptr;
  cublasStatus_t (*ltMatmul)(cublasLtHandle_t, cublasLtMatmulDesc_t, const void*, const void*,
                             cublasLtMatrixLayout_t, const void*, cublasLtMatrixLayout_t, const void*, const void*,
                             cublasLtMatrixLayout_t, void*, cublasLtMatrixLayout_t, const cublasLtMatmulAlgo_t*,
                             void*, size_t, cudaStream_t) = nullptr;

  // cuBLAS (batched GEMMs with pointer arrays, for the unfused attention path)
  cublasStatus_t (*create)(cublasHandle_t*) = nullptr;
  cublasStatus_t (*destroy)(cublasHandle_t) = nullptr;
  cublasStatus_t (*setStream)(cublasHandle_t, cudaStream_t) = nullptr;
  cublasStatus_t (*setWorkspace)(cublasHandle_t, void*, size_t) = nullptr;
  cublasStatus_t (*setMathMode)(cublasHandle_t, cublasMath_t) = nullptr;
  const char* (*getStatusString)(cublasStatus_t) = nullptr;
  cublasStatus_t (*gemmBatchedEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                                  const void* const[], cudaDataType_t, int, const void* const[], cudaDataType_t, int,
                                  const void*, void* const[], cudaDataType_t, int, int, cublasComputeType_t,
                                  cublasGemmAlgo_t) = nullptr;
};

// Loads once per process (thread-safe). Throws vit::error(Cuda) listing every place it looked.
const CublasApi& cublas_api();
// Non-throwing probe for cuda_status(): nullptr and `why` filled when cuBLAS cannot be loaded.
const CublasApi* cublas_try_load(std::string* why);
// The directories/names tried, in order (for messages and `vitnode doctor`).
std::vector<std::string> cublas_search_list();

}  // namespace vit::cuda

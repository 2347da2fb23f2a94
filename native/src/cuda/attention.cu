// Attention on the packed qkv[B, T, 3D] (q | k | v, head-major) -> out[B, q, D]: the first q query rows (attr
// `queries`, default T) over all T keys, so a last block can compute only its prefix-token rows. Split forms:
// [q, kv] (q[Bq, Q, D], kv[B, T, 2D] = k | v) and [q, k, v] (k, v [B, T, D]), Bq 1 (one q shared by the batch,
// timm AttentionPoolLatent) or B; these run the unfused path below.
// float16 / bfloat16 on sm_80+ with head_dim in {32, 64, 96, 128}: a fused flash-style kernel (tensor-core
// mma.sync m16n8k16, float32 scores and online softmax in registers, P rounded to the model dtype for P.V as
// in FlashAttention): v1 below, or v2 (attention-v2.cu: K/V of a (batch, head) kept in shared memory) when
// VITNODE_CUDA_ATTN=v2 and the shape fits. Otherwise (float32, TF32, other head dims, older GPUs): cuBLAS batched
// GEMMs over pointer arrays into float32 scores, a float32 row softmax, and a second batched GEMM; the batch
// is processed in chunks so the T x T scores fit the scratch budget.
// Scale: scores * scale (timm's modern q * scale first is the same product up to one rounding, within tolerance).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "cuda/attention-v2.cuh"
#include "cuda/common.cuh"
#include "cuda/gemm.cuh"
#include "cuda/mma.cuh"
#include "cuda/ops.cuh"

namespace vit::cuda {

namespace {

constexpr size_t kAttnScratchBudget = size_t(256) << 20;

// One block = 64 query rows of one (batch, head), 4 warps x 16 rows; keys in tiles of 64 through shared
// memory (K row-major, V transposed so P.V's B fragments are 32-bit loads). Fragment layouts: cuda/mma.cuh.
// The S accumulators of two adjacent n-tiles are exactly the A fragment of P for one k-step of P.V.
// Key tail (T = 197: 4 tiles of 64 keys for 197): n-tiles (8 keys) wholly past T skip Q.K^T (their scores are
// -inf) and 16-key steps wholly past T skip P.V (their P is 0); the tests are block-uniform, so the register
// arrays stay statically indexed. At T = 197 this is 25 of 32 n-tiles. (Also skipping the MMAs of warps whose
// 16 query rows all lie past T pushed the kernel over 128 registers / into spills with nvcc 13: not done.)
template <typename T, int HD>
__global__ void __launch_bounds__(128) flash_attention_kernel(const T* __restrict__ qkv, T* __restrict__ out, int t_len,
                                                              int q_len, int d, int heads, float scale_log2) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  constexpr int BQ = 64, BK = 64, KP = HD + 8, VP = BK + 8, NV = HD / 8;
  __shared__ __align__(16) T ks[BK * KP];
  __shared__ __align__(16) T vt[HD * VP];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, t4 = lane & 3;
  const int bh = blockIdx.y, b = bh / heads, h = bh % heads;
  const int64_t ld = 3LL * d;
  const T* base = qkv + (int64_t)b * t_len * ld;
  const T* qb = base + h * HD;
  const T* kb = base + d + h * HD;
  const T* vb = base + 2 * d + h * HD;
  const int r0 = blockIdx.x * BQ + warp * 16 + g, r1 = r0 + 8;

  uint32_t qf[HD / 16][4];
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
    const int c = kk * 16 + 2 * t4;
    qf[kk][0] = r0 < q_len ? *reinterpret_cast<const uint32_t*>(qb + r0 * ld + c) : 0u;
    qf[kk][1] = r1 < q_len ? *reinterpret_cast<const uint32_t*>(qb + r1 * ld + c) : 0u;
    qf[kk][2] = r0 < q_len ? *reinterpret_cast<const uint32_t*>(qb + r0 * ld + c + 8) : 0u;
    qf[kk][3] = r1 < q_len ? *reinterpret_cast<const uint32_t*>(qb + r1 * ld + c + 8) : 0u;
  }
  float o[NV][4];
#pragma unroll
  for (int i = 0; i < NV; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;

  for (int k0 = 0; k0 < t_len; k0 += BK) {
    __syncthreads();  // the previous tile is consumed
    for (int i = threadIdx.x; i < BK * NV; i += 128) {  // K: row-major, 8 elements per 16-byte load
      const int r = i / NV, c = (i % NV) * 8;
      uint4 v = make_uint4(0, 0, 0, 0);
      if (k0 + r < t_len) v = *reinterpret_cast<const uint4*>(kb + (int64_t)(k0 + r) * ld + c);
      *reinterpret_cast<uint4*>(&ks[r * KP + c]) = v;
    }
    for (int i = threadIdx.x; i < BK * NV; i += 128) {  // V: transposed into vt[dim][key]
      const int r = i % BK, c = (i / BK) * 8;
      uint4 v = make_uint4(0, 0, 0, 0);
      if (k0 + r < t_len) v = *reinterpret_cast<const uint4*>(vb + (int64_t)(k0 + r) * ld + c);
      const T* e = reinterpret_cast<const T*>(&v);
#pragma unroll
      for (int j = 0; j < 8; ++j) vt[(c + j) * VP + r] = e[j];
    }
    __syncthreads();

    float s[BK / 8][4];
#pragma unroll
    for (int nt = 0; nt < BK / 8; ++nt) {
      s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
      if (k0 + nt * 8 >= t_len) continue;  // keys all past T: masked below
#pragma unroll
      for (int kk = 0; kk < HD / 16; ++kk) {
        const T* kp = &ks[(nt * 8 + g) * KP + kk * 16 + 2 * t4];
        mma16816<T>(s[nt], qf[kk], *reinterpret_cast<const uint32_t*>(kp), *reinterpret_cast<const uint32_t*>(kp + 8));
      }
    }
    float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < BK / 8; ++nt) {
      const int c = k0 + nt * 8 + 2 * t4;
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const bool ok = c + (e & 1) < t_len;
        s[nt][e] = ok ? s[nt][e] * scale_log2 : -INFINITY;
      }
      mx0 = fmaxf(mx0, fmaxf(s[nt][0], s[nt][1]));
      mx1 = fmaxf(mx1, fmaxf(s[nt][2], s[nt][3]));
    }
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
    const float a0 = exp2f(m0 - mn0), a1 = exp2f(m1 - mn1);
    m0 = mn0;
    m1 = mn1;
    float rs0 = 0.f, rs1 = 0.f;
#pragma unroll
    for (int nt = 0; nt < BK / 8; ++nt) {
      s[nt][0] = exp2f(s[nt][0] - m0);
      s[nt][1] = exp2f(s[nt][1] - m0);
      s[nt][2] = exp2f(s[nt][2] - m1);
      s[nt][3] = exp2f(s[nt][3] - m1);
      rs0 += s[nt][0] + s[nt][1];
      rs1 += s[nt][2] + s[nt][3];
    }
    l0 = l0 * a0 + rs0;
    l1 = l1 * a1 + rs1;
#pragma unroll
    for (int i = 0; i < NV; ++i) {
      o[i][0] *= a0;
      o[i][1] *= a0;
      o[i][2] *= a1;
      o[i][3] *= a1;
    }
#pragma unroll
    for (int j = 0; j < BK / 16; ++j) {
      if (k0 + j * 16 >= t_len) continue;  // P is 0 for these 16 keys
      const uint32_t pa[4] = {pack2<T>(s[2 * j][0], s[2 * j][1]), pack2<T>(s[2 * j][2], s[2 * j][3]),
                              pack2<T>(s[2 * j + 1][0], s[2 * j + 1][1]), pack2<T>(s[2 * j + 1][2], s[2 * j + 1][3])};
#pragma unroll
      for (int nd = 0; nd < NV; ++nd) {
        const T* vp = &vt[(nd * 8 + g) * VP + j * 16 + 2 * t4];
        mma16816<T>(o[nd], pa, *reinterpret_cast<const uint32_t*>(vp), *reinterpret_cast<const uint32_t*>(vp + 8));
      }
    }
  }
  l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
  l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
  const float inv0 = 1.f / l0, inv1 = 1.f / l1;
  T* ob = out + (int64_t)b * q_len * d + h * HD;
#pragma unroll
  for (int nd = 0; nd < NV; ++nd) {
    const int c = nd * 8 + 2 * t4;
    if (r0 < q_len) *reinterpret_cast<uint32_t*>(ob + (int64_t)r0 * d + c) = pack2<T>(o[nd][0] * inv0, o[nd][1] * inv0);
    if (r1 < q_len) *reinterpret_cast<uint32_t*>(ob + (int64_t)r1 * d + c) = pack2<T>(o[nd][2] * inv1, o[nd][3] * inv1);
  }
#endif
}

template <typename T>
void flash_attention_cuda(const T* qkv, T* out, int b, int t_len, int q_len, int d, int heads, float scale,
                          cudaStream_t s) {
  const int hd = d / heads;
  const dim3 grid((q_len + 63) / 64, b * heads);  // query rows past q are never computed
  const float sl2 = scale * 1.4426950408889634f;
  switch (hd) {
    case 32: flash_attention_kernel<T, 32><<<grid, 128, 0, s>>>(qkv, out, t_len, q_len, d, heads, sl2); break;
    case 64: flash_attention_kernel<T, 64><<<grid, 128, 0, s>>>(qkv, out, t_len, q_len, d, heads, sl2); break;
    case 96: flash_attention_kernel<T, 96><<<grid, 128, 0, s>>>(qkv, out, t_len, q_len, d, heads, sl2); break;
    case 128: flash_attention_kernel<T, 128><<<grid, 128, 0, s>>>(qkv, out, t_len, q_len, d, heads, sl2); break;
    default: fail(ErrorCode::Internal, "flash attention: unsupported head_dim " + std::to_string(hd));
  }
  VIT_CUDA_LAUNCH_CHECK();
}

bool use_flash(const OpEnv& env, int hd) {
  return env.dtype != DType::F32 && env.ctx->sm >= 80 && (hd == 32 || hd == 64 || hd == 96 || hd == 128);
}

// VITNODE_CUDA_ATTN = v1 | v2 picks the fused kernel, read when the op is planned. The default stays v1 until a
// GPU run has verified v2 (bench/gpu/checks.mjs runs the fused cases under both and compares them).
bool want_v2(const Node& n) {
  const char* v = std::getenv("VITNODE_CUDA_ATTN");
  if (!v || !*v || std::strcmp(v, "v1") == 0) return false;
  VIT_CHECK(std::strcmp(v, "v2") == 0, Argument,
            node_label(n) + ": VITNODE_CUDA_ATTN must be v1 or v2, got '" + std::string(v) + "'");
  return true;
}

struct Dims {
  int64_t b, t, d, heads, hd, q;  // b: batch of k / v / out; t: keys; q: query rows computed
  int inputs;                     // 1: packed qkv[B,T,3D]; 2: q[Bq,Q,D], kv[B,T,2D]; 3: q[Bq,Q,D], k, v[B,T,D]
  int64_t bq;                     // q's batch: B, or 1 (one q shared by the batch)
};

Dims attention_dims(const OpEnv& env, const Node& n) {
  const auto& xs = env.shape(n.inputs[0]);
  const int inputs = static_cast<int>(n.inputs.size());
  Dims dm{};
  dm.inputs = inputs;
  dm.heads = n.iattr("heads");
  if (inputs == 1) {
    VIT_CHECK(xs.size() == 3 && xs[2] % 3 == 0, Shape, node_label(n) + ": expects qkv[B, T, 3D]");
    dm.b = dm.bq = xs[0], dm.t = xs[1], dm.d = xs[2] / 3;
    dm.q = n.has_attr("queries") ? n.iattr("queries") : static_cast<int>(dm.t);  // as core/shape-check.cc reads it
    VIT_CHECK(dm.q >= 1 && dm.q <= dm.t, Shape, node_label(n) + ": queries must be in [1, T]");
  } else {
    const auto& ks = env.shape(n.inputs[1]);
    VIT_CHECK(inputs <= 3 && xs.size() == 3 && ks.size() == 3, Shape, node_label(n) + ": expects q, kv or q, k, v");
    dm.bq = xs[0], dm.q = xs[1], dm.d = xs[2], dm.b = ks[0], dm.t = ks[1];
    VIT_CHECK(ks[2] == (inputs == 2 ? 2 : 1) * dm.d && (dm.bq == 1 || dm.bq == dm.b) &&
                  (inputs == 2 || env.shape(n.inputs[2]) == ks),
              Shape, node_label(n) + ": q, k, v shapes do not fit");
  }
  VIT_CHECK(dm.heads > 0 && dm.d % dm.heads == 0, Shape, node_label(n) + ": D not divisible by heads");
  dm.hd = dm.d / dm.heads;
  return dm;
}

// The fused kernels read packed qkv only; the split forms run the unfused path.
bool fused(const OpEnv& env, const Dims& dm) { return dm.inputs == 1 && use_flash(env, static_cast<int>(dm.hd)); }

// Batch items per chunk of the unfused path, and the scratch bytes per item (f32 scores [+ 16-bit P]).
int64_t per_item_bytes(const OpEnv& env, const Dims& dm) {
  const int64_t scores = dm.heads * dm.t * dm.q;
  return scores * 4 + (env.dtype == DType::F32 ? 0 : scores * 2 + 256);
}
int64_t chunk_items(const OpEnv& env, const Dims& dm) {
  return std::max<int64_t>(1, std::min<int64_t>(dm.b, static_cast<int64_t>(kAttnScratchBudget) / per_item_bytes(env, dm)));
}

}  // namespace

size_t attention_scratch_bytes(const OpEnv& env, const Node& n) {
  const Dims dm = attention_dims(env, n);
  if (fused(env, dm)) return 0;
  return static_cast<size_t>(chunk_items(env, dm) * per_item_bytes(env, dm));
}

StepFn op_attention(OpEnv& env, const Node& n) {
  const Dims dm = attention_dims(env, n);
  const float scale = static_cast<float>(n.attr("scale"));  // the CPU backend's default too
  const void* qkv = env.tensor(n.inputs[0]);
  void* out = env.tensor(n.output);
  const DType dt = env.dtype;
  VIT_CHECK(numel(env.shape(n.output)) == dm.b * dm.q * dm.d, Shape,
            node_label(n) + ": output must be [B, queries, D]");
  const bool v2 = want_v2(n);
  if (fused(env, dm)) {
    const int b = static_cast<int>(dm.b), t = static_cast<int>(dm.t), q = static_cast<int>(dm.q),
              d = static_cast<int>(dm.d), heads = static_cast<int>(dm.heads);
    // v2 falls back to v1 when K/V of one (batch, head) do not fit shared memory.
    const FlashV2Launch l2 =
        v2 ? flash_v2_plan(*env.ctx, dt, b, t, q, heads, static_cast<int>(dm.hd)) : FlashV2Launch{};
    if (l2.warps) return [=](cudaStream_t s) { flash_v2_cuda(dt, l2, qkv, out, b, t, q, d, heads, scale, s); };
    VIT_CHECK(dm.b * dm.heads < 65536, Unsupported, node_label(n) + ": batch * heads must be < 65536");
    return [=](cudaStream_t s) {
      if (dt == DType::F16)
        flash_attention_cuda<__half>(static_cast<const __half*>(qkv), static_cast<__half*>(out), b, t, q, d, heads,
                                     scale, s);
      else
        flash_attention_cuda<__nv_bfloat16>(static_cast<const __nv_bfloat16*>(qkv), static_cast<__nv_bfloat16*>(out), b,
                                            t, q, d, heads, scale, s);
    };
  }

  // Unfused path: pointer arrays for every (batch, head), built once.
  const int64_t chunk = chunk_items(env, dm);
  const int64_t nb = dm.b * dm.heads, tt = dm.t * dm.q, es = static_cast<int64_t>(env.esize());  // tt: scores per item
  char* scratch = static_cast<char*>(env.scratch);
  const int64_t scores_bytes = chunk * dm.heads * tt * 4;
  char* p_buf = dt == DType::F32 ? scratch : scratch + (scores_bytes + 255) / 256 * 256;
  // q, k, v of (batch item, head 0): tensor, element offset, batch stride, row stride (ld).
  struct Operand {
    const char* base;
    int64_t off, bs;
    int ld;
  };
  const int64_t D = dm.d, T = dm.t;
  const char* t0 = static_cast<const char*>(env.tensor(n.inputs[0]));
  Operand oq{t0, 0, T * 3 * D, static_cast<int>(3 * D)}, ok{t0, D, T * 3 * D, static_cast<int>(3 * D)},
      ov{t0, 2 * D, T * 3 * D, static_cast<int>(3 * D)};
  if (dm.inputs > 1) {
    const char* t1 = static_cast<const char*>(env.tensor(n.inputs[1]));
    const int64_t kv_w = dm.inputs == 2 ? 2 * D : D;
    oq = {t0, 0, dm.bq == 1 ? 0 : dm.q * D, static_cast<int>(D)};
    ok = {t1, 0, T * kv_w, static_cast<int>(kv_w)};
    ov = dm.inputs == 2 ? Operand{t1, D, T * kv_w, static_cast<int>(kv_w)}
                        : Operand{static_cast<const char*>(env.tensor(n.inputs[2])), 0, T * D, static_cast<int>(D)};
  }
  auto at = [&](const Operand& o, int64_t bi, int64_t h) { return o.base + (o.off + bi * o.bs + h * dm.hd) * es; };
  std::vector<const void*> host(static_cast<size_t>(nb * 6));
  for (int64_t bi = 0; bi < dm.b; ++bi)
    for (int64_t h = 0; h < dm.heads; ++h) {
      const int64_t i = bi * dm.heads + h, ci = (bi % chunk) * dm.heads + h;
      host[0 * nb + i] = at(ok, bi, h);                                  // K (A of S^T = K Q^T)
      host[1 * nb + i] = at(oq, bi, h);                                  // Q
      host[2 * nb + i] = scratch + ci * tt * 4;                          // S (float32)
      host[3 * nb + i] = at(ov, bi, h);                                  // V
      host[4 * nb + i] = p_buf + ci * tt * es;                           // P
      host[5 * nb + i] = static_cast<char*>(out) + (bi * dm.q * dm.d + h * dm.hd) * es;  // O (q rows per item)
    }
  auto ptrs = std::make_shared<DeviceBuffer>(*env.ctx, host.size() * sizeof(void*), "attention pointers of " + n.name);
  VIT_CUDA_CHECK_CTX(cudaMemcpy(ptrs->get(), host.data(), host.size() * sizeof(void*), cudaMemcpyHostToDevice),
                     node_label(n));
  env.keep->push_back(ptrs);
  const void* const* pa = static_cast<const void* const*>(ptrs->get());
  cublasHandle_t blas = env.blas();
  const bool tf32 = env.tf32;
  const int t = static_cast<int>(dm.t), nq = static_cast<int>(dm.q), hd = static_cast<int>(dm.hd),
            ldq = oq.ld, ldk = ok.ld, ldv = ov.ld, ldo = static_cast<int>(dm.d);
  const int64_t B = dm.b, H = dm.heads;
  const std::string what = node_label(n);
  return [=](cudaStream_t s) {
    for (int64_t b0 = 0; b0 < B; b0 += chunk) {
      const int items = static_cast<int>(std::min(chunk, B - b0));
      const int batch = static_cast<int>(items * H);
      const int64_t off = b0 * H;
      // S^T (keys x queries, col-major) = K Q^T: m = T, n = q (the first q query rows), k = hd.
      gemm_batched(blas, s, true, false, t, nq, hd, scale, pa + 0 * nb + off, ldk, pa + 1 * nb + off, ldq, 0.f,
                   const_cast<void* const*>(pa + 2 * nb + off), t, batch, dt, DType::F32, tf32, what + " q.k");
      softmax_rows(scratch, DType::F32, p_buf, dt, static_cast<int64_t>(batch) * nq, t, s);
      // O^T (hd x q) = V^T (hd x T, ld ldv) P^T (T x q, ld T).
      gemm_batched(blas, s, false, false, hd, nq, t, 1.f, pa + 3 * nb + off, ldv, pa + 4 * nb + off, t, 0.f,
                   const_cast<void* const*>(pa + 5 * nb + off), ldo, batch, dt, dt, tf32, what + " p.v");
    }
  };
}

}  // namespace vit::cuda

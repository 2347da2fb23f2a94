// Fused attention v2, for ViT sequence lengths (T up to ~600): one block per (batch, head, query chunk) copies
// K and V of the whole sequence into shared memory once (cp.async, 16 bytes, rows past T zero-filled, one
// commit group per 64-key tile so the first tile's math starts while later tiles are still in flight); its
// warps then loop over 16-row query groups (only ceil(q / 16) groups exist) with no block barrier after the
// first round. K's B fragments come from ldmatrix, V's from ldmatrix .trans on the row-major rows (no transpose
// pass). Each warp's next query group is prefetched by cp.async into a per-warp slot while it works on the
// current one. The math is v1's step for step (64-key online-softmax tiles in float32, scores * scale in the
// log2 domain, exp2f, P rounded to the model dtype for P.V, the same MMA order per accumulator), so v1 and v2
// should agree to the bit or within a rounding. Fragment layouts: cuda/mma.cuh.
#include <algorithm>
#include <string>

#include "cuda/attention-v2.cuh"
#include "cuda/common.cuh"
#include "cuda/mma.cuh"

namespace vit::cuda {

namespace {

// Shared memory: K and V rows up to T rounded to 16 (the last ldmatrix reads 16 keys), then one 16-row Q slot
// per warp; rows padded by 16 bytes so the 8 rows of an ldmatrix hit 8 different 4-bank groups.
size_t smem_bytes(int hd, int t, int warps) {
  const size_t rows16 = static_cast<size_t>((t + 15) / 16 * 16);
  return (2 * rows16 + 16 * static_cast<size_t>(warps)) * (hd + 8) * 2;
}

// Min blocks per SM: 1 at head_dim 128 (else ptxas caps sm_86/89 at 168 registers and spills); unspecified (0)
// otherwise, which keeps head_dim 64 at <= 128 registers on sm_90 (two 8-warp blocks per SM).
template <typename T, int HD, int NW>
__global__ void __launch_bounds__(NW * 32, HD == 128 ? 1 : 0)
    flash_v2_kernel(const T* __restrict__ qkv, T* __restrict__ out, int t_len, int q_len, int d, int heads,
                    float scale_log2, int gpc) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  constexpr int kTile = 64;  // keys per online-softmax step (v1's, so both round at the same points)
  constexpr int KP = HD + 8, CH = HD / 8, NK = HD / 16, NV = HD / 8;
  extern __shared__ uint4 v2_smem[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, t4 = lane & 3;
  const int rows16 = (t_len + 15) & ~15;
  T* ks = reinterpret_cast<T*>(v2_smem);
  T* vs = ks + rows16 * KP;
  T* qs = vs + rows16 * KP + warp * 16 * KP;  // this warp's Q slot
  const int bh = blockIdx.x, b = bh / heads, h = bh % heads;
  const int64_t ld = 3LL * d;
  const T* base = qkv + (int64_t)b * t_len * ld;
  const T* qb = base + h * HD;
  const T* kb = base + d + h * HD;
  const T* vb = base + 2 * d + h * HD;
  const int groups = (q_len + 15) / 16;
  const int g0 = blockIdx.y * gpc, g_end = min(g0 + gpc, groups);
  const int rounds = (g_end - g0 + NW - 1) / NW;  // block-uniform
  const int ntiles = (t_len + kTile - 1) / kTile;

  auto load_q_slot = [&](int gi) {  // rows >= q_len zero-filled
    for (int i = lane; i < 16 * CH; i += 32) {
      const int r = i / CH, c = (i % CH) * 8, row = gi * 16 + r;
      const bool ok = row < q_len;
      cp_async16(smem_addr(qs + r * KP + c), ok ? qb + (int64_t)row * ld + c : qb, ok);
    }
  };
  // Commit groups, oldest first: [Q slot for round 1] [K/V tile 0] ... [K/V tile ntiles - 1].
  if (g0 + NW + warp < g_end) load_q_slot(g0 + NW + warp);
  cp_async_commit();
  for (int i = 0; i < ntiles; ++i) {
    const int k0 = i * kTile, rows = min(kTile, rows16 - k0);
    for (int j = threadIdx.x; j < rows * CH; j += NW * 32) {
      const int r = k0 + j / CH, c = (j % CH) * 8;
      const bool ok = r < t_len;
      const int64_t off = ok ? (int64_t)r * ld + c : 0;
      cp_async16(smem_addr(ks + r * KP + c), kb + off, ok);
      cp_async16(smem_addr(vs + r * KP + c), vb + off, ok);
    }
    cp_async_commit();
  }

  // Round 0's Q straight from global memory into A fragments (overlaps the copies above).
  uint32_t qf[NK][4];
  {
    const int r0 = (g0 + warp) * 16 + g, r1 = r0 + 8;
#pragma unroll
    for (int kk = 0; kk < NK; ++kk) {
      const int c = kk * 16 + 2 * t4;
      qf[kk][0] = r0 < q_len ? *reinterpret_cast<const uint32_t*>(qb + r0 * ld + c) : 0u;
      qf[kk][1] = r1 < q_len ? *reinterpret_cast<const uint32_t*>(qb + r1 * ld + c) : 0u;
      qf[kk][2] = r0 < q_len ? *reinterpret_cast<const uint32_t*>(qb + r0 * ld + c + 8) : 0u;
      qf[kk][3] = r1 < q_len ? *reinterpret_cast<const uint32_t*>(qb + r1 * ld + c + 8) : 0u;
    }
  }
  // Per-lane ldmatrix offsets (elements). K, x4 = keys n0..n0+15 x dims kk*16..+15: matrices (keys +0, dims +0),
  // (+0, +8), (+8, +0), (+8, +8) -> b0/b1 of n-tile n0, b0/b1 of n-tile n0+8. V .trans, x4 = keys k..k+15 x dims
  // nd*16..+15: matrices (keys +0, dims +0), (+8, +0), (+0, +8), (+8, +8) -> b0/b1 of dim tile nd*16, b0/b1 of
  // dim tile nd*16+8. Q, x4 = rows 0..15 x dims kk*16..+15: (+0, +0), (+8, +0), (+0, +8), (+8, +8) = a[0..3].
  const int k_off = (((lane >> 4) << 3) + (lane & 7)) * KP + (lane & 8);
  const int v_off = (lane & 15) * KP + ((lane >> 4) << 3);
  const int q_off = (lane & 15) * KP + ((lane >> 4) << 3);
  const uint32_t ks_a = smem_addr(ks), vs_a = smem_addr(vs), qs_a = smem_addr(qs);

  for (int r = 0; r < rounds; ++r) {
    const int gi = g0 + r * NW + warp;
    const bool active = gi < g_end;
    if (r > 0) {  // no block barrier from here on: idle warps leave
      if (!active) break;
      cp_async_wait_pending(0);
      __syncwarp();  // every lane's part of the slot has landed
#pragma unroll
      for (int kk = 0; kk < NK; ++kk) ldmatrix_x4(qf[kk], qs_a + (q_off + kk * 16) * 2);
      __syncwarp();  // the slot is read: refill it for the next round
      if (gi + NW < g_end) load_q_slot(gi + NW);
      cp_async_commit();
    }
    float o[NV][4];
#pragma unroll
    for (int i = 0; i < NV; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;

    for (int i = 0; i < ntiles; ++i) {
      if (r == 0) {  // K/V tile i has landed (for every thread's copies)
        cp_async_wait_pending(ntiles - 1 - i);
        __syncthreads();
      }
      if (!active) continue;
      const int k0 = i * kTile;
      float s[kTile / 8][4];
#pragma unroll
      for (int nt = 0; nt < kTile / 8; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
#pragma unroll
      for (int jj = 0; jj < kTile / 16; ++jj) {
        const int n0 = k0 + jj * 16;
        if (n0 >= t_len) continue;  // keys all past T: masked below (block-uniform test)
#pragma unroll
        for (int kk = 0; kk < NK; ++kk) {
          uint32_t kf[4];
          ldmatrix_x4(kf, ks_a + (n0 * KP + kk * 16 + k_off) * 2);
          mma16816<T>(s[2 * jj], qf[kk], kf[0], kf[1]);
          mma16816<T>(s[2 * jj + 1], qf[kk], kf[2], kf[3]);
        }
      }
      float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < kTile / 8; ++nt) {
        if (k0 + nt * 8 >= t_len) continue;  // wholly past T: P = 0 below, the max unchanged (as v1's -inf)
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
      for (int nt = 0; nt < kTile / 8; ++nt) {
        if (k0 + nt * 8 >= t_len) {
          s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
          continue;
        }
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
      for (int i2 = 0; i2 < NV; ++i2) {
        o[i2][0] *= a0;
        o[i2][1] *= a0;
        o[i2][2] *= a1;
        o[i2][3] *= a1;
      }
#pragma unroll
      for (int j = 0; j < kTile / 16; ++j) {
        if (k0 + j * 16 >= t_len) continue;  // P is 0 for these 16 keys
        // The S accumulators of n-tiles 2j, 2j+1 are exactly P's A fragment for this 16-key step.
        const uint32_t pa[4] = {pack2<T>(s[2 * j][0], s[2 * j][1]), pack2<T>(s[2 * j][2], s[2 * j][3]),
                                pack2<T>(s[2 * j + 1][0], s[2 * j + 1][1]), pack2<T>(s[2 * j + 1][2], s[2 * j + 1][3])};
#pragma unroll
        for (int nd = 0; nd < HD / 16; ++nd) {
          uint32_t vf[4];
          ldmatrix_x4_trans(vf, vs_a + ((k0 + j * 16) * KP + nd * 16 + v_off) * 2);
          mma16816<T>(o[2 * nd], pa, vf[0], vf[1]);
          mma16816<T>(o[2 * nd + 1], pa, vf[2], vf[3]);
        }
      }
    }
    if (!active) continue;
    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const float inv0 = 1.f / l0, inv1 = 1.f / l1;
    const int r0 = gi * 16 + g, r1 = r0 + 8;
    T* ob = out + (int64_t)b * q_len * d + h * HD;
#pragma unroll
    for (int nd = 0; nd < NV; ++nd) {
      const int c = nd * 8 + 2 * t4;
      if (r0 < q_len) *reinterpret_cast<uint32_t*>(ob + (int64_t)r0 * d + c) = pack2<T>(o[nd][0] * inv0, o[nd][1] * inv0);
      if (r1 < q_len) *reinterpret_cast<uint32_t*>(ob + (int64_t)r1 * d + c) = pack2<T>(o[nd][2] * inv1, o[nd][3] * inv1);
    }
  }
#endif
}

template <typename T, int NW>
const void* kernel_for(int hd) {
  switch (hd) {
    case 32: return reinterpret_cast<const void*>(flash_v2_kernel<T, 32, NW>);
    case 64: return reinterpret_cast<const void*>(flash_v2_kernel<T, 64, NW>);
    case 96: return reinterpret_cast<const void*>(flash_v2_kernel<T, 96, NW>);
    case 128: return reinterpret_cast<const void*>(flash_v2_kernel<T, 128, NW>);
    default: return nullptr;
  }
}

const void* kernel_for(DType dt, int hd, int warps) {
  if (dt == DType::F16) return warps == 4 ? kernel_for<__half, 4>(hd) : kernel_for<__half, 8>(hd);
  if (dt == DType::BF16) return warps == 4 ? kernel_for<__nv_bfloat16, 4>(hd) : kernel_for<__nv_bfloat16, 8>(hd);
  return nullptr;
}

}  // namespace

FlashV2Launch flash_v2_plan(const DeviceContext& ctx, DType dt, int b, int t, int q, int heads, int hd) {
  FlashV2Launch best;
  if (ctx.sm < 80 || !kernel_for(dt, hd, 4) || t < 1 || q < 1) return best;
  // 4 or 8 warps: whichever keeps more warps resident per SM (registers and shared memory, as the occupancy
  // calculator sees them); 4 on a tie (finer query chunks).
  int best_resident = 0, best_blocks = 0;
  for (int warps : {4, 8}) {
    const size_t smem = smem_bytes(hd, t, warps);
    if (smem > ctx.props.sharedMemPerBlockOptin) continue;
    const void* fn = kernel_for(dt, hd, warps);
    // The device maximum, not this shape's size: programs of other shapes share the kernel attribute.
    VIT_CUDA_CHECK(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(ctx.props.sharedMemPerBlockOptin)));
    VIT_CUDA_CHECK(
        cudaFuncSetAttribute(fn, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared));
    int blocks = 0;
    VIT_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, fn, warps * 32, smem));
    if (blocks * warps > best_resident) {
      best_resident = blocks * warps;
      best_blocks = blocks;
      best.warps = warps;
      best.smem = smem;
    }
  }
  if (!best.warps) return best;
  // Query chunks: one per (batch, head) when that fills the GPU (each chunk reloads K/V); more at small batch,
  // at least one 16-row group per warp each.
  const int groups = (q + 15) / 16;
  const int64_t bh = static_cast<int64_t>(b) * heads;
  const int64_t wave = static_cast<int64_t>(best_blocks) * ctx.props.multiProcessorCount;
  const int64_t want = std::max<int64_t>(1, (wave + bh - 1) / bh);
  const int chunks = static_cast<int>(std::min<int64_t>(want, (groups + best.warps - 1) / best.warps));
  best.groups_per_chunk = (groups + chunks - 1) / chunks;
  best.chunks = (groups + best.groups_per_chunk - 1) / best.groups_per_chunk;
  return best;
}

void flash_v2_cuda(DType dt, const FlashV2Launch& L, const void* qkv, void* out, int b, int t, int q, int d, int heads,
                   float scale, cudaStream_t s) {
  const int hd = d / heads;
  const void* fn = kernel_for(dt, hd, L.warps);
  if (!fn || !L.warps) fail(ErrorCode::Internal, "flash attention v2: no kernel for head_dim " + std::to_string(hd));
  float sl2 = scale * 1.4426950408889634f;
  int t_len = t, q_len = q, dd = d, hh = heads, gpc = L.groups_per_chunk;
  void* args[] = {&qkv, &out, &t_len, &q_len, &dd, &hh, &sl2, &gpc};
  const dim3 grid(static_cast<unsigned>(static_cast<int64_t>(b) * heads), static_cast<unsigned>(L.chunks));
  VIT_CUDA_CHECK(cudaLaunchKernel(fn, grid, dim3(L.warps * 32), args, L.smem, s));
}

}  // namespace vit::cuda

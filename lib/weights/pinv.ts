// Moore-Penrose pseudo-inverse of a small dense matrix (timm's resample_patch_embed uses torch.linalg.pinv), by
// one-sided Jacobi SVD in float64: accurate without forming A^T A, and enough for the few-hundred-wide resize
// matrices of patch embeddings. Singular values at or below rtol * max are dropped, like torch's default.

const F32_EPS = 2 ** -23;

/** pinv of the row-major m x n matrix `a`: row-major n x m. Default rtol: float32 eps * max(m, n) (torch, float32). */
export function pinv(a: ArrayLike<number>, m: number, n: number, rtol = F32_EPS * Math.max(m, n)): Float64Array {
  if (m < n) return transpose(pinv(transpose(a, m, n), n, m, rtol), m, n);
  // columns of U (start: A) are rotated until orthogonal; V accumulates the rotations: A V = U = [sigma_j u_j]
  const u = Array.from({ length: n }, (_, j) => Float64Array.from({ length: m }, (_, i) => a[i * n + j]));
  const v = Array.from({ length: n }, (_, j) => Float64Array.from({ length: n }, (_, i) => (i === j ? 1 : 0)));
  const dot = (x: Float64Array, y: Float64Array) => {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i] * y[i];
    return s;
  };
  const rotate = (x: Float64Array, y: Float64Array, c: number, s: number) => {
    for (let i = 0; i < x.length; i++) {
      const xi = x[i];
      x[i] = c * xi - s * y[i];
      y[i] = s * xi + c * y[i];
    }
  };
  for (let sweep = 0; sweep < 100; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const alpha = dot(u[p], u[p]);
        const beta = dot(u[q], u[q]);
        const gamma = dot(u[p], u[q]);
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        rotate(u[p], u[q], c, c * t);
        rotate(v[p], v[q], c, c * t);
      }
    }
    if (!rotated) break;
  }
  const sigma2 = u.map((col) => dot(col, col));
  const cutoff = rtol * Math.sqrt(Math.max(0, ...sigma2));
  const out = new Float64Array(n * m); // sum_j v_j (sigma_j u_j)^T / sigma_j^2
  for (let j = 0; j < n; j++) {
    if (!(Math.sqrt(sigma2[j]) > cutoff)) continue;
    for (let i = 0; i < n; i++) {
      const f = v[j][i] / sigma2[j];
      if (f) for (let k = 0; k < m; k++) out[i * m + k] += f * u[j][k];
    }
  }
  return out;
}

function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

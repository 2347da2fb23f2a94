// Generated from the native op table (native/include/vit/ops.def) by `node --import=tsx scripts/gen-ops.ts`.
// Do not edit: change the table, rebuild the addon and regenerate (test/ops-table.test.ts checks it is current).

/** Every op the native backends know. */
export type OpName =
  | 'weight'
  | 'patch_embed'
  | 'concat_prefix'
  | 'add'
  | 'layer_norm'
  | 'linear'
  | 'attention'
  | 'pool'
  | 'tanh'
  | 'gelu'
  | 'softmax'
  | 'slice_tokens'
  | 'tokens_to_nchw'
  | 'pos_resample'
  | 'conv2d'
  | 'group_norm'
  | 'relu'
  | 'max_pool2d'
  | 'avg_pool2d'
  | 'act'
  | 'mul'
  | 'glu'
  | 'rms_norm'
  | 'head_norm'
  | 'slice_last'
  | 'rope';

/** The attributes of each op (numbers; integers where the doc says int). */
export interface OpAttrs {
  /** the tensor of its weight role, as a graph tensor (no copy on CPU). 0 inputs */
  weight: Record<string, never>;
  /**
   * x[B,C,H,W] -> [B, gh*gw, D]: the conv whose kernel equals its stride, weight[D,C,P,P], bias[D]. 1 input
   * [row_wise]
   */
  patch_embed: {
    /** patch size P (the weight's kernel). int >= 1, required */
    patch: number;
    /** 1: zero-pad right/bottom to a multiple of P; 0: H, W must be multiples. int in [0, 1], default 0 */
    pad?: number;
  };
  /** x[B,N,D], t1[1,k1,D], t2[1,k2,D]... -> [B, k1+k2+..+N, D] (prefix tokens first). 1 or more inputs */
  concat_prefix: Record<string, never>;
  /**
   * alpha*a + beta*b; b broadcast over the batch when b.shape[0] == 1, or over every row when b is a vector [C]. 2
   * inputs [row_wise]
   */
  add: {
    /** scale of a. any real, default 1 */
    alpha?: number;
    /** scale of b. any real, default 1 */
    beta?: number;
  };
  /** LayerNorm over the last dim, weight and bias [D]. 1 input [row_wise] */
  layer_norm: {
    /** added to the variance. real >= 0, default 1e-6 */
    eps?: number;
  };
  /**
   * x[..,K] -> [..,N]: y = residual + gamma * act(x W^T + bias), weight[N,K]; inputs[1] (optional) the residual. 1
   * to 2 inputs [row_wise]
   */
  linear: {
    /**
     * 0 none, 1 gelu (erf), 2 tanh, 3 gelu_tanh (tanh approximation), 4 quick_gelu (x * sigmoid(1.702 x)), 5 silu,
     * 6 relu, 7 sigmoid. int in [0, 7], default 0
     */
    act?: number;
  };
  /**
   * softmax(q k^T * scale) v per head (head-major columns) -> [B,Q,D]. One input: packed qkv[B,T,3D] (q|k|v), the
   * first Q query rows over all T keys (Q < T: the pruned last block). Two: q[Bq,Q,D], kv[B,T,2D] (k|v). Three:
   * q[Bq,Q,D], k[B,T,D], v[B,T,D]. Bq is B, or 1: one q shared by the batch (timm AttentionPoolLatent). 1 to 3
   * inputs
   */
  attention: {
    /** number of heads (divides D). int >= 1, required */
    heads: number;
    /** multiplies the scores q.k. any real, default 1 */
    scale?: number;
    /** query rows Q of packed qkv (default T; one input only). int >= 1, default depends on the shapes */
    queries?: number;
  };
  /** x[B,T,D] -> [B,D]: one token, or the average / max of tokens [start, T). 1 input */
  pool: {
    /** 0 token, 1 avg, 2 max, 3 avgmax ((max + avg) / 2). int in [0, 3], default 0 */
    mode?: number;
    /** first pooled token (modes 1-3). int >= 0, default 0 */
    start?: number;
    /** the token (mode 0). int >= 0, default 0 */
    index?: number;
  };
  /** tanh. 1 input [row_wise, elementwise, test_only] */
  tanh: Record<string, never>;
  /** GELU, exact erf. 1 input [row_wise, elementwise, test_only] */
  gelu: Record<string, never>;
  /** softmax over the last dim. 1 input [row_wise, test_only] */
  softmax: Record<string, never>;
  /** x[B,T,D] -> [B,count,D]: tokens [start, start + count). 1 input [row_wise] */
  slice_tokens: {
    /** first token. int >= 0, default 0 */
    start?: number;
    /** number of tokens. int >= 1, required */
    count: number;
  };
  /** x[B,N,D] -> [B,D,h,w] (N = h*w). 1 input */
  tokens_to_nchw: {
    /** grid height. int >= 1, required */
    h: number;
    /** grid width. int >= 1, required */
    w: number;
  };
  /**
   * pos[1, prefix + old_h*old_w, D] -> [1, prefix + h*w, D]: prefix rows copied, the grid resampled as
   * F.interpolate (timm-vit-spec.md 3.4). 1 input
   */
  pos_resample: {
    /** prefix tokens. int >= 0, default 0 */
    prefix?: number;
    /** source grid height. int >= 1, required */
    old_h: number;
    /** source grid width. int >= 1, required */
    old_w: number;
    /** target grid height. int >= 1, required */
    h: number;
    /** target grid width. int >= 1, required */
    w: number;
    /** 0 bilinear, 1 bicubic + antialias (PIL kernel), 2 bicubic. int in [0, 2], default 0 */
    mode?: number;
  };
  /**
   * x[B,C,H,W] -> [B,O,OH,OW]: y = act(conv(x, W') + b' + residual), W'/b' the standardised / BN-folded
   * weight[O,C,kh,kw] and bias; zero padding; inputs[1] (optional) the residual [B,O,OH,OW]. 1 to 2 inputs
   */
  conv2d: {
    /** stride. int >= 1, default 1 */
    stride?: number;
    /** dilation. int >= 1, default 1 */
    dilation?: number;
    /** top padding. int >= 0, default 0 */
    pad_t?: number;
    /** left padding. int >= 0, default 0 */
    pad_l?: number;
    /** bottom padding. int >= 0, default 0 */
    pad_b?: number;
    /** right padding. int >= 0, default 0 */
    pad_r?: number;
    /** weight standardisation: 0 none, 1 (w-m)/(std+eps), 2 (w-m)/sqrt(var+eps). int in [0, 2], default 0 */
    ws?: number;
    /** weight standardisation eps. real >= 0, default 1e-5 */
    ws_eps?: number;
    /** BatchNorm eps (with the bn_* roles). real >= 0, default 1e-5 */
    bn_eps?: number;
    /** 0 none, 1 relu. int in [0, 1], default 0 */
    act?: number;
  };
  /**
   * x[B,C,...] -> same: y = act(group_norm(x) + residual), weight and bias [C]; inputs[1] (optional) the residual.
   * 1 to 2 inputs
   */
  group_norm: {
    /** groups (divide C). int >= 1, required */
    groups: number;
    /** added to the variance. real >= 0, default 1e-5 */
    eps?: number;
    /** 0 none, 1 relu. int in [0, 1], default 0 */
    act?: number;
  };
  /** max(x, 0). 1 input [row_wise, elementwise, test_only] */
  relu: Record<string, never>;
  /** x[B,C,H,W]: max over k x k windows; padding never wins (-inf). 1 input */
  max_pool2d: {
    /** window size k. int >= 1, required */
    kernel: number;
    /** stride. int >= 1, required */
    stride: number;
    /** top padding (< k). int >= 0, default 0 */
    pad_t?: number;
    /** left padding (< k). int >= 0, default 0 */
    pad_l?: number;
    /** bottom padding (< k). int >= 0, default 0 */
    pad_b?: number;
    /** right padding (< k). int >= 0, default 0 */
    pad_r?: number;
    /** 1: ceil in the output size (PyTorch's rule). int in [0, 1], default 0 */
    ceil_mode?: number;
  };
  /** x[B,C,H,W]: average over the in-image elements of each k x k window (count_include_pad=False). 1 input */
  avg_pool2d: {
    /** window size k. int >= 1, required */
    kernel: number;
    /** stride. int >= 1, required */
    stride: number;
    /** top padding (< k). int >= 0, default 0 */
    pad_t?: number;
    /** left padding (< k). int >= 0, default 0 */
    pad_l?: number;
    /** bottom padding (< k). int >= 0, default 0 */
    pad_b?: number;
    /** right padding (< k). int >= 0, default 0 */
    pad_r?: number;
    /** 1: ceil in the output size (PyTorch's rule). int in [0, 1], default 0 */
    ceil_mode?: number;
  };
  /** an activation by code (linear's act codes). 1 input [row_wise, elementwise] */
  act: {
    /**
     * 0 none, 1 gelu (erf), 2 tanh, 3 gelu_tanh (tanh approximation), 4 quick_gelu (x * sigmoid(1.702 x)), 5 silu,
     * 6 relu, 7 sigmoid. int in [0, 7], required
     */
    act: number;
  };
  /** a * b, same shapes (SwiGLU: act(fc1_g(x)) * fc1_x(x)). 2 inputs [row_wise] */
  mul: Record<string, never>;
  /** x[..,2H] -> [..,H]: act(gate) * value over the two halves of the last dim. 1 input [row_wise] */
  glu: {
    /**
     * 0 none, 1 gelu (erf), 2 tanh, 3 gelu_tanh (tanh approximation), 4 quick_gelu (x * sigmoid(1.702 x)), 5 silu,
     * 6 relu, 7 sigmoid. int in [0, 7], required
     */
    act: number;
    /** 1: gate = x[..,:H] (timm SwiGLUPacked); 0: gate = x[..,H:] (timm GluMlp). int in [0, 1], default 0 */
    gate_first?: number;
  };
  /** timm RmsNorm over the last dim: x * rsqrt(mean(x^2) + eps) * weight[D] (no bias). 1 input [row_wise] */
  rms_norm: {
    /** added to the mean square. real >= 0, default 1e-6 */
    eps?: number;
  };
  /**
   * qkv[..,3D] (q|k|v, head-major) -> same: q and k normalised per head over D/heads (timm qk_norm) with q_weight,
   * k_weight [D/heads] (and q_bias, k_bias for LayerNorm); v copied. 1 input [row_wise]
   */
  head_norm: {
    /** number of heads (divides D). int >= 1, required */
    heads: number;
    /** added to the variance / mean square. real >= 0, default 1e-6 */
    eps?: number;
    /** 0 LayerNorm, 1 RmsNorm (no bias). int in [0, 1], default 0 */
    kind?: number;
  };
  /** x[..,C] -> [..,count]: columns [start, start + count) of the last dim. 1 input [row_wise] */
  slice_last: {
    /** first column. int >= 0, default 0 */
    start?: number;
    /** number of columns. int >= 1, required */
    count: number;
  };
  /**
   * x[B,T,W] -> same: the first `sections` column blocks of width D = heads*hd (q, k of a packed qkv) are rotated
   * per head for tokens t >= start: y = x*cos + rot(x)*sin with table[Ht, T-start, 2*hd] = [sin | cos] (Ht 1:
   * shared by the heads, or heads: one table per head); other columns and tokens copied. 1 input [row_wise]
   */
  rope: {
    /** number of heads (D = heads * hd, hd = table width / 2). int >= 1, required */
    heads: number;
    /** column blocks of width D rotated (2: q and k of packed qkv). int >= 1, default 1 */
    sections?: number;
    /** first rotated token (prefix tokens before it stay as they are). int >= 0, default 0 */
    start?: number;
    /**
     * pair layout of rot: 0 interleaved (x0,x1)->(-x1,x0); 1 rotate_half cat(-x[hd/2:], x[:hd/2]). int in [0, 1],
     * default 0
     */
    half?: number;
  };
}

/** The weight roles of each op: role -> state_dict key. */
export interface OpWeights {
  weight: {
    weight: string;
  };
  patch_embed: {
    weight: string;
    bias?: string;
  };
  concat_prefix: Record<string, never>;
  add: Record<string, never>;
  layer_norm: {
    weight: string;
    bias: string;
  };
  linear: {
    weight: string;
    bias?: string;
    gamma?: string;
  };
  attention: Record<string, never>;
  pool: Record<string, never>;
  tanh: Record<string, never>;
  gelu: Record<string, never>;
  softmax: Record<string, never>;
  slice_tokens: Record<string, never>;
  tokens_to_nchw: Record<string, never>;
  pos_resample: Record<string, never>;
  conv2d: {
    weight: string;
    bias?: string;
    bn_weight?: string;
    bn_bias?: string;
    bn_mean?: string;
    bn_var?: string;
  };
  group_norm: {
    weight: string;
    bias: string;
  };
  relu: Record<string, never>;
  max_pool2d: Record<string, never>;
  avg_pool2d: Record<string, never>;
  act: Record<string, never>;
  mul: Record<string, never>;
  glu: Record<string, never>;
  rms_norm: {
    weight: string;
  };
  head_norm: {
    q_weight: string;
    k_weight: string;
    q_bias?: string;
    k_bias?: string;
  };
  slice_last: Record<string, never>;
  rope: {
    table: string;
  };
}

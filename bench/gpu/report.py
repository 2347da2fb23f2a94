#!/usr/bin/env python3
"""Merges bench/gpu's JSON lines (torch_bench.py, vitnode-bench.mjs) into bench.json + bench.md under --out.
vitnode rows with another engine name (vitnode-bench.mjs --engine, e.g. "vitnode (attn v2)") are variants: their
own table, each compared with plain "vitnode" on the same config; they never replace the main rows."""
import argparse
import json
import os
import time

# (patch, dim, depth) -> model FLOPs per image at 224 (2 x MACs: patch embed, blocks, head).
ARCH = {'deit_tiny_patch16_224': (16, 192, 12), 'vit_small_patch16_224': (16, 384, 12),
        'vit_base_patch16_224': (16, 768, 12), 'vit_large_patch16_224': (16, 1024, 24)}
# Hybrids: (ResNetV2 stage depths, dim, depth, classes of timm's default cfg); the ViT sees the backbone's map.
HYBRID = {'vit_base_r50_s16_224': ((3, 4, 9), 768, 12, 0), 'vit_small_r26_s32_224': ((2, 2, 2, 2), 384, 12, 1000)}
ORDER = ['vit_base_patch16_224', 'vit_small_patch16_224', 'deit_tiny_patch16_224', 'vit_large_patch16_224',
         'vit_base_r50_s16_224', 'vit_small_r26_s32_224']


def resnetv2_macs(layers, size=224):
    """Conv MACs of timm's non-preact ResNetV2 (7x7/2 stem, 3x3/2 max pool, bottlenecks with the stride on the
    3x3 and a 1x1 projection in each stage's first block); returns (macs, channels, map side)."""
    s = size // 2
    macs = s * s * 64 * 3 * 49
    s //= 2
    cin = 64
    for i, n in enumerate(layers):
        out = 256 << i
        mid = out // 4
        for j in range(n):
            so = s // 2 if i > 0 and j == 0 else s
            macs += s * s * cin * mid + so * so * (mid * mid * 9 + mid * out)
            if j == 0:
                macs += so * so * cin * out
            cin, s = out, so
    return macs, cin, s


def vit_macs(tokens, d, depth, classes):
    t = tokens + 1
    return depth * (12 * t * d * d + 2 * t * t * d) + d * classes


def flops(model):
    if model in HYBRID:
        layers, d, depth, classes = HYBRID[model]
        conv, c, side = resnetv2_macs(layers)
        n = side * side
        return 2 * (conv + n * c * d + vit_macs(n, d, depth, classes))
    p, d, depth = ARCH[model]
    n = (224 // p) ** 2
    return 2 * (n * d * 3 * p * p + vit_macs(n, d, depth, 1000))


def load(path):
    out = []
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line.startswith('{'):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return out


def fmt(v, nd=0):
    if v is None:
        return '–'
    if isinstance(v, float):
        return f'{v:.{nd}f}' if abs(v) >= 1e-3 or v == 0 else f'{v:.1e}'
    return str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    torch_rows = load(os.path.join(a.out, 'torch-results.jsonl'))
    vit_rows = load(os.path.join(a.out, 'vitnode-results.jsonl'))
    env = {}
    envp = os.path.join(a.out, 'env.json')
    if os.path.exists(envp):
        env = json.load(open(envp))
    peak = next((r for r in torch_rows if r.get('kind') == 'gemm_peak'), None)

    res = {}  # (model, dtype, batch) -> dict
    for r in torch_rows:
        if r.get('kind') != 'result':
            continue
        key = (r['model'], r['dtype'], r['batch'])
        res.setdefault(key, {})['eager' if r['engine'] == 'eager' else 'compile'] = r
    agree, mem = {}, {}
    variants = {}  # (engine, model, dtype, batch) -> result row
    variant_agree = {}  # (engine, model, dtype) -> agreement row
    for r in vit_rows:
        k = (r.get('model'), r.get('dtype'))
        if r.get('engine', 'vitnode') != 'vitnode':
            if r.get('kind') == 'result':
                variants[(r['engine'], r['model'], r['dtype'], r['batch'])] = r
            elif r.get('kind') == 'agreement':
                variant_agree[(r['engine'],) + k] = r
            continue
        if r.get('kind') == 'result':
            res.setdefault((r['model'], r['dtype'], r['batch']), {})['vitnode'] = r
        elif r.get('kind') == 'agreement':
            agree[k] = r
        elif r.get('kind') == 'memory':
            mem[k] = r.get('process_mib')
    torch_mem, torch_agree = {}, {}
    for r in torch_rows:
        if r.get('kind') == 'result' and r['engine'] == 'eager':
            k = (r['model'], r['dtype'])
            torch_mem[k] = max(torch_mem.get(k) or 0, r.get('process_mib') or 0) or None
            if 'agreement_err' in r:
                torch_agree[k] = r['agreement_err']

    md = ['# vitnode vs timm (PyTorch) on GPU', '',
          f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. GPU: {env.get('gpu', peak.get('device') if peak else '?')}; "
          f"driver {env.get('driver', '?')}; torch {peak.get('torch') if peak else '?'} (CUDA {peak.get('cuda') if peak else '?'}); "
          f"timm {env.get('timm', '?')}; vitnode commit {env.get('commit', '?')}.", '',
          'Same random-init timm weights for both (timm `create_model(name)` seed 0, saved to safetensors, loaded by vitnode). '
          'timm eager = `model(x)` under `torch.no_grad()` (+ `torch.autocast` for float16/bfloat16, TF32 via '
          '`allow_tf32`), input already on the GPU (timm benchmark.py style); "host I/O" adds `x.cuda()` and '
          '`logits.cpu()`. vitnode always starts from a host Float32Array and returns host logits; its img/s is the '
          'better of one request at a time and two in flight. Memory: nvidia-smi per-process (includes the CUDA '
          'context; vitnode runs each model/dtype in a fresh process, torch reuses one process, so its figure is the '
          'running maximum).', '']
    if peak:
        md.append(f"Measured dense bf16 GEMM peak (8192³ torch.matmul): {peak['tflops']:.0f} TFLOP/s.")
        md.append('')
    # Targets
    tb = res.get(('vit_base_patch16_224', 'bfloat16', 256), {})
    t1 = res.get(('vit_base_patch16_224', 'bfloat16', 1), {})
    targets = []
    if 'vitnode' in tb and 'eager' in tb:
        r = tb['vitnode']['img_s'] / tb['eager']['img_s']
        targets.append(f"- vit_base bf16 batch 256 vs timm eager autocast: **{r:.2f}x** (target >= 1.3x) {'PASS' if r >= 1.3 else 'MISS'}")
    if 'vitnode' in tb and 'compile' in tb:
        r = tb['vitnode']['img_s'] / tb['compile']['img_s']
        targets.append(f"- vit_base bf16 batch 256 vs torch.compile: **{r:.2f}x** (target >= 1.0x) {'PASS' if r >= 1.0 else 'MISS'}")
    if 'vitnode' in tb and peak:
        f = tb['vitnode']['img_s'] * flops('vit_base_patch16_224') / 1e12
        targets.append(f"- vit_base bf16 batch 256 model FLOP/s: {f:.0f} TFLOP/s = **{100 * f / peak['tflops']:.0f}%** of the measured bf16 GEMM peak (target >= 55%)")
    if 'vitnode' in t1 and 'eager' in t1:
        r = t1['vitnode']['ms_p50'] / t1['eager']['ms_p50']
        targets.append(f"- vit_base bf16 batch 1 latency p50 {t1['vitnode']['ms_p50']:.2f} ms vs eager {t1['eager']['ms_p50']:.2f} ms: **{r:.2f}x** (target <= 0.5x) {'PASS' if r <= 0.5 else 'MISS'}")
    md += ['## Targets (issue 4 §6)', ''] + (targets or ['- (not measured)']) + ['']

    for model in ORDER:
        if not any(k[0] == model for k in res):
            continue
        md += [f'## {model} ({flops(model) / 1e9:.1f} GFLOP/img)', '']
        if model in HYBRID:
            conv = 2 * resnetv2_macs(HYBRID[model][0])[0]
            md += [f'Hybrid: ResNetV2 {HYBRID[model][0]} backbone convs {conv / 1e9:.1f} GFLOP of it (NCHW conv2d on '
                   'vitnode), then the ViT on its feature map.' + (' num_classes 0 (timm default cfg): the outputs '
                   'compared are the pooled features.' if HYBRID[model][3] == 0 else ''), '']
        md += ['| dtype | batch | vitnode img/s | eager img/s | eager host-I/O img/s | compile img/s | vs eager | vs compile | vitnode p50 / p99 ms | eager p50 / p99 ms |',
               '|---|---|---|---|---|---|---|---|---|---|']
        for dtype in ['bfloat16', 'float16', 'tf32', 'float32']:
            for b in [1, 8, 64, 256]:
                r = res.get((model, dtype, b))
                if not r:
                    continue
                v, e, c = r.get('vitnode'), r.get('eager'), r.get('compile')
                md.append('| ' + ' | '.join([
                    dtype, str(b), fmt(v and v['img_s']), fmt(e and e['img_s']), fmt(e and e.get('img_s_host_io')),
                    fmt(c and c['img_s']),
                    f"{v['img_s'] / e['img_s']:.2f}x" if v and e else '–',
                    f"{v['img_s'] / c['img_s']:.2f}x" if v and c else '–',
                    f"{v['ms_p50']:.2f} / {v['ms_p99']:.2f}" if v else '–',
                    f"{e['ms_p50']:.2f} / {e['ms_p99']:.2f}" if e else '–']) + ' |')
        md += ['', '| dtype | vitnode logits err vs timm f32 (tol) | timm autocast err vs timm f32 | vitnode process MiB | torch process MiB (running max) |', '|---|---|---|---|---|']
        for dtype in ['bfloat16', 'float16', 'tf32', 'float32']:
            ag = agree.get((model, dtype))
            md.append(f"| {dtype} | {fmt(ag and ag['err_vs_timm_f32'], 6)} ({ag and ag['tol']}) {'' if not ag else ('ok' if ag['ok'] else '**FAIL**')} | "
                      f"{fmt(torch_agree.get((model, dtype)), 6)} | {fmt(mem.get((model, dtype)))} | {fmt(torch_mem.get((model, dtype)))} |")
        md.append('')
    if variants:
        md += ['## vitnode variants (vs plain vitnode on the same config)', '',
               '| engine | model | dtype | batch | img/s | vitnode img/s | vs vitnode | p50 / p99 ms | logits err vs timm f32 (tol) |',
               '|---|---|---|---|---|---|---|---|---|']
        for (eng, model, dtype, b), v in sorted(variants.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], -kv[0][3])):
            base = res.get((model, dtype, b), {}).get('vitnode')
            ag = variant_agree.get((eng, model, dtype))
            md.append('| ' + ' | '.join([
                eng, model, dtype, str(b), fmt(v['img_s']), fmt(base and base['img_s']),
                f"{v['img_s'] / base['img_s']:.2f}x" if base else '–',
                f"{v['ms_p50']:.2f} / {v['ms_p99']:.2f}",
                f"{fmt(ag['err_vs_timm_f32'], 6)} ({ag['tol']}) {'ok' if ag['ok'] else '**FAIL**'}" if ag else '–']) + ' |')
        md.append('')
    errors = [r for r in torch_rows + vit_rows if r.get('kind') in ('error', 'skipped')]
    if errors:
        md += ['## Errors and skipped configs', ''] + [f"- {json.dumps(r)[:600]}" for r in errors] + ['']
    json.dump({'env': env, 'gemm_peak': peak, 'torch': torch_rows, 'vitnode': vit_rows}, open(os.path.join(a.out, 'bench.json'), 'w'), indent=1)
    open(os.path.join(a.out, 'bench.md'), 'w').write('\n'.join(md) + '\n')
    print('\n'.join(md))


if __name__ == '__main__':
    main()

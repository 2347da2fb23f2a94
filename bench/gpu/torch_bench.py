#!/usr/bin/env python3
"""timm on PyTorch for bench/gpu: the reference side of the vitnode comparison.

  prepare  -- random-init timm models (seed 0) saved as safetensors (the SAME weights vitnode loads), plus a
              fixed input and timm's float32 logits for the agreement check.
  eager    -- timm eager: float32, TF32, float16 / bfloat16 autocast (timm benchmark.py --amp style).
  compile  -- torch.compile (default mode) for the listed (model, dtype, batch) configs only.
  peak     -- measured dense bf16 GEMM peak (8192^3 matmul), for the model-FLOP/s target.
Results are appended as JSON lines to --out after every config, so a time-out still leaves partial results.
Hybrids (ResNetV2 + ViT) run in float16 / bfloat16 only unless --dtypes names others. vit_base_r50_s16_224's
default cfg (orig_in21k) has num_classes 0 in timm and in vitnode: its "logits" are the 768-d pooled features.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import time

import torch

HYBRIDS = ['vit_base_r50_s16_224', 'vit_small_r26_s32_224']
MODELS = ['vit_base_patch16_224', 'vit_small_patch16_224', 'deit_tiny_patch16_224', HYBRIDS[0], 'vit_large_patch16_224',
          HYBRIDS[1]]
DTYPES = ['bfloat16', 'float16', 'tf32', 'float32']


def dtypes_for(name, explicit):
    if explicit:
        return explicit
    return [d for d in DTYPES if d in ('bfloat16', 'float16')] if name in HYBRIDS else DTYPES
BATCHES = [256, 1, 8, 64]


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        t = t.detach().to('cpu', torch.float32).contiguous()
        b = t.numpy().tobytes()
        header[k] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    import numpy as np
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype=np.float32).copy()).reshape(v['shape'])
    return out


def emit(out, rec):
    rec['time'] = time.time()
    with open(out, 'a') as f:
        f.write(json.dumps(rec) + '\n')
    print(json.dumps(rec), flush=True)


def smi_process_mib():
    try:
        r = subprocess.run(['nvidia-smi', '--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'],
                           capture_output=True, text=True, timeout=10)
        for line in r.stdout.splitlines():
            pid, mem = [x.strip() for x in line.split(',')]
            if int(pid) == os.getpid():
                return int(mem)
    except Exception:
        pass
    return None


def build(name, weights_dir):
    import timm
    m = timm.create_model(name, pretrained=False)
    m.load_state_dict(load_safetensors(os.path.join(weights_dir, name + '.safetensors')))
    return m.eval().cuda()


def set_tf32(on):
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def autocast(dtype):
    if dtype in ('float16', 'bfloat16'):
        return torch.autocast('cuda', dtype=getattr(torch, dtype))
    return torch.autocast('cuda', enabled=False)


def timed(fn, batch, budget_s, min_iters=3, max_iters=50):
    """Warm up, then time sequential iterations; returns (img/s, per-iteration ms list)."""
    fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    one = time.perf_counter() - t
    n = max(min_iters, min(max_iters, int(math.ceil(budget_s / max(one, 1e-4)))))
    times = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t) * 1000)
    total = time.perf_counter() - start
    return n * batch / total, times


def pct(v, p):
    s = sorted(v)
    return s[min(len(s) - 1, max(0, int(math.ceil(p / 100 * len(s))) - 1))]


def cmd_prepare(a):
    import timm
    os.makedirs(a.weights, exist_ok=True)
    set_tf32(False)
    for name in a.models:
        t0 = time.time()
        torch.manual_seed(0)
        m = timm.create_model(name, pretrained=False).eval()
        path = os.path.join(a.weights, name + '.safetensors')
        save_safetensors(path, m.state_dict())
        g = torch.Generator().manual_seed(1)
        x = torch.randn(8, 3, 224, 224, generator=g)
        m = m.cuda()
        with torch.no_grad():
            ref = {'input': x, 'logits': m(x.cuda()).float().cpu()}
            for dt in ('float16', 'bfloat16'):
                with autocast(dt):
                    ref['logits_' + dt] = m(x.cuda()).float().cpu()
        save_safetensors(os.path.join(a.weights, name + '.ref.safetensors'), ref)
        emit(a.out, {'kind': 'prepare', 'model': name, 'seconds': time.time() - t0,
                     'params': sum(p.numel() for p in m.parameters()), 'logits_absmax': ref['logits'].abs().max().item()})
        del m
        torch.cuda.empty_cache()


def agreement(m, name, weights, dtype):
    ref = load_safetensors(os.path.join(weights, name + '.ref.safetensors'))
    with torch.no_grad(), autocast(dtype):
        y = m(ref['input'].cuda()).float().cpu()
    want = ref['logits']
    err = ((y - want).abs().max() / max(1.0, want.abs().max().item())).item()
    return err


def cmd_bench(a, compile_mode):
    deadline = a.deadline or float('inf')
    configs = []
    if compile_mode:
        for item in a.configs.split(','):
            name, dtype, batch = item.split(':')
            configs.append((name, dtype, int(batch)))
    else:
        for name in a.models:
            for dtype in dtypes_for(name, a.dtypes):
                for b in a.batches:
                    configs.append((name, dtype, b))
    current = (None, None)
    m = None
    for name, dtype, batch in configs:
        if time.time() > deadline:
            emit(a.out, {'kind': 'skipped', 'engine': 'torch.compile' if compile_mode else 'eager', 'model': name,
                         'dtype': dtype, 'batch': batch, 'why': 'time budget'})
            continue
        try:
            if current[0] != name:
                m = None
                torch.cuda.empty_cache()
                m = build(name, a.weights)
                current = (name, None)
            set_tf32(dtype == 'tf32')
            fn_model = m
            compile_s = None
            if compile_mode:
                torch._dynamo.reset()
                fn_model = torch.compile(m)
            x = torch.randn(batch, 3, 224, 224, device='cuda')
            x_host = x.cpu()
            torch.cuda.reset_peak_memory_stats()

            def fwd():
                with torch.no_grad(), autocast(dtype):
                    return fn_model(x)

            def fwd_host():
                with torch.no_grad(), autocast(dtype):
                    return fn_model(x_host.cuda(non_blocking=False)).float().cpu()

            if compile_mode:
                t = time.time()
                fwd()
                torch.cuda.synchronize()
                compile_s = time.time() - t
            ips, times = timed(fwd, batch, a.budget)
            rec = {'kind': 'result', 'engine': 'torch.compile' if compile_mode else 'eager', 'model': name,
                   'dtype': dtype, 'batch': batch, 'img_s': ips, 'iters': len(times),
                   'ms_p50': pct(times, 50), 'ms_p99': pct(times, 99),
                   'peak_alloc_mib': torch.cuda.max_memory_allocated() / 2**20,
                   'process_mib': smi_process_mib()}
            if batch in (1, 256):
                ips_h, times_h = timed(fwd_host, batch, a.budget / 2)
                rec.update({'img_s_host_io': ips_h, 'ms_p50_host_io': pct(times_h, 50), 'ms_p99_host_io': pct(times_h, 99)})
            if compile_s is not None:
                rec['compile_s'] = compile_s
            if not compile_mode and batch == a.batches[0]:
                rec['agreement_err'] = agreement(m, name, a.weights, dtype if dtype != 'tf32' else 'float32')
            emit(a.out, rec)
        except Exception as e:  # keep going: one failing config must not lose the rest
            emit(a.out, {'kind': 'error', 'engine': 'torch.compile' if compile_mode else 'eager', 'model': name,
                         'dtype': dtype, 'batch': batch, 'error': repr(e)[:500]})
            torch.cuda.empty_cache()


def cmd_peak(a):
    n = 8192
    x = torch.randn(n, n, device='cuda', dtype=torch.bfloat16)
    y = torch.randn(n, n, device='cuda', dtype=torch.bfloat16)
    for _ in range(3):
        x @ y
    torch.cuda.synchronize()
    iters = 20
    t = time.perf_counter()
    for _ in range(iters):
        x @ y
    torch.cuda.synchronize()
    dt = time.perf_counter() - t
    emit(a.out, {'kind': 'gemm_peak', 'dtype': 'bfloat16', 'n': n, 'tflops': 2 * n**3 * iters / dt / 1e12,
                 'device': torch.cuda.get_device_name(), 'torch': torch.__version__,
                 'cuda': torch.version.cuda})


def main():
    p = argparse.ArgumentParser()
    p.add_argument('cmd', choices=['prepare', 'eager', 'compile', 'peak'])
    p.add_argument('--weights', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--models', nargs='*', default=MODELS)
    p.add_argument('--dtypes', nargs='*', default=None, help='default: all four (hybrids: the 16-bit two)')
    p.add_argument('--batches', nargs='*', type=int, default=BATCHES)
    p.add_argument('--configs', default='vit_base_patch16_224:bfloat16:256,vit_base_patch16_224:bfloat16:1')
    p.add_argument('--budget', type=float, default=0.6, help='seconds of timed iterations per config')
    p.add_argument('--deadline', type=float, default=0, help='epoch seconds after which configs are skipped')
    a = p.parse_args()
    if a.cmd == 'prepare':
        cmd_prepare(a)
    elif a.cmd == 'peak':
        cmd_peak(a)
    else:
        cmd_bench(a, a.cmd == 'compile')


if __name__ == '__main__':
    main()

"""Small PyTorch checkpoints for test/checkpoints.test.ts (test/fixtures/pth/), written by torch itself.

views*.pth: shared storages and views — a transposed (non-contiguous) view, an offset + strided slice, a row,
a stride-0 expand, a Parameter, bf16 / f16 / f64 tensors, an int64 buffer (not a weight: skipped), and extra
non-tensor entries — in the zip format (torch >= 1.6), the legacy non-zip format and the pre-0.4 tar format
(hand-written with the layout torch/serialization.py's legacy_load reads; torch.load(weights_only=False) reads it
back to check). views.expected.safetensors holds each float tensor as a contiguous copy.
hostile_*.pth: pickles whose objects reduce to os.system / builtins.eval / subprocess.Popen (never executed by
vitnode; torch.load(weights_only=True) refuses them too).
Run from the repository root: python3 scripts/make-pth-fixtures.py
"""
import io, os, pickle, struct, subprocess, tarfile
import torch
from safetensors.torch import save_file

out = 'test/fixtures/pth/'
g = torch.Generator().manual_seed(0)
base = torch.randn(4, 6, generator=g)
half_base = torch.randn(3, 5, generator=g).half()
sd = {
    'base': base,
    'transposed': base.t(),               # non-contiguous view of the same storage
    'slice': base[1:3, ::2],              # storage offset 6 + strides (6, 2)
    'row': base[2],                       # offset view
    'expanded': torch.randn(1, 3, generator=g).expand(4, 3),  # stride 0
    'param': torch.nn.Parameter(torch.randn(2, 2, generator=g)),
    'bf16': torch.randn(3, 4, generator=g).bfloat16(),
    'f16_t': half_base.t(),
    'f64': torch.randn(5, generator=g).double(),
    'scalar': torch.tensor(3.5),
    'steps': torch.tensor([7, 8], dtype=torch.int64),
}
ckpt = {'state_dict': sd, 'epoch': 12, 'arch': 'test', 'metrics': [1.5, None, True], 'opt': {'lr': 0.1}}
torch.save(ckpt, out + 'views.pth')
torch.save(ckpt, out + 'views_legacy.pth', _use_new_zipfile_serialization=False)
save_file({k: v.detach().clone().contiguous() for k, v in sd.items() if v.is_floating_point()}, out + 'views.expected.safetensors')

# timm train checkpoints: EMA weights preferred over 'state_dict' (timm load_state_dict, use_ema=True)
torch.save({'state_dict': {'w': torch.zeros(3)}, 'state_dict_ema': {'w': torch.ones(3)}, 'epoch': 1}, out + 'ema_timm.pth')
torch.save({'model': {'w': torch.zeros(3)}, 'model_ema': {'w': torch.full((3,), 2.0)}}, out + 'ema_model.pth')

# --- pre-0.4 tar format, as legacy_load reads it ---------------------------------------------------------------
storages, tensor_recs = {}, []
def skey(t):
    s = t.untyped_storage()
    k = str(len(storages)) if s.data_ptr() not in [v[0].data_ptr() for v in storages.values()] else \
        next(k for k, v in storages.items() if v[0].data_ptr() == s.data_ptr())
    if k not in storages:
        storages[k] = (s, t.dtype)
    return k
class Tp(pickle.Pickler):
    def persistent_id(self, obj):
        if torch.is_tensor(obj):
            key = 1000 + len(tensor_recs)  # legacy_load: deserialized_objects[int(saved_id)]
            tensor_recs.append((key, skey(obj), obj))
            return str(key)
        return None
main = io.BytesIO(); Tp(main, protocol=2).dump({k: v.detach() for k, v in sd.items()})
storage_cls = {torch.float32: torch.FloatStorage, torch.float16: torch.HalfStorage, torch.bfloat16: torch.BFloat16Storage,
               torch.float64: torch.DoubleStorage, torch.int64: torch.LongStorage}
tensor_cls = {torch.float32: torch.FloatTensor, torch.float16: torch.HalfTensor, torch.bfloat16: torch.BFloat16Tensor,
              torch.float64: torch.DoubleTensor, torch.int64: torch.LongTensor}
st = io.BytesIO()
pickle.dump(len(storages), st, protocol=2)
for k, (s, dt) in storages.items():
    pickle.dump((k, 'cpu', storage_cls[dt]), st, protocol=2)
    es = torch.tensor([], dtype=dt).element_size()
    st.write(struct.pack('<q', s.nbytes() // es)); st.write(bytes(s))
pickle.dump([], st, protocol=2)
te = io.BytesIO()
pickle.dump(len(tensor_recs), te, protocol=2)
for key, sk, t in tensor_recs:
    pickle.dump((key, sk, tensor_cls[t.dtype]), te, protocol=2)
    te.write(struct.pack('<i', t.dim())); te.write(b'\0' * 4)
    te.write(struct.pack(f'<{t.dim()}q', *t.shape)); te.write(struct.pack(f'<{t.dim()}q', *t.stride()))
    te.write(struct.pack('<q', t.storage_offset()))
with tarfile.open(out + 'views_tar.pth', 'w', format=tarfile.PAX_FORMAT) as tar:
    for name, buf in [('sys_info', pickle.dumps({'protocol_version': 1001, 'little_endian': True}, protocol=2)),
                      ('pickle', main.getvalue()), ('storages', st.getvalue()), ('tensors', te.getvalue())]:
        info = tarfile.TarInfo(name); info.size = len(buf); tar.addfile(info, io.BytesIO(buf))
back = torch.load(out + 'views_tar.pth', weights_only=False)
for k, v in sd.items():
    assert torch.equal(back[k], v.detach()), k
for f in ['views.pth', 'views_legacy.pth']:
    back = torch.load(out + f, weights_only=True)['state_dict']
    assert all(torch.equal(back[k], v) for k, v in sd.items())

# --- hostile pickles ---------------------------------------------------------------------------------------------
marker = '/tmp/vitnode-pwned'
class Evil:
    def __init__(self, fn, arg): self.fn, self.arg = fn, arg
    def __reduce__(self): return (self.fn, (self.arg,))
import builtins
for name, fn, arg in [('os_system', os.system, f'touch {marker}'), ('builtins_eval', builtins.eval, f"open('{marker}', 'w')"),
                      ('subprocess_popen', subprocess.Popen, ['touch', marker])]:
    torch.save({'model': {'w': torch.zeros(2)}, 'payload': Evil(fn, arg)}, out + f'hostile_{name}.pth')
torch.save({'w': torch.zeros(2), 'payload': Evil(os.system, f'touch {marker}')}, out + 'hostile_legacy_os_system.pth',
           _use_new_zipfile_serialization=False)
print('wrote', sorted(os.listdir(out)))

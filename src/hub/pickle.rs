//! PyTorch checkpoints (`torch.save`, the Hub's `pytorch_model.bin`) read in Rust, without Python:
//! the zip format of PyTorch ≥ 1.6 (`<name>/data.pkl` + `<name>/data/<key>`) and the older
//! "legacy" format (pickles followed by the raw storages).
//!
//! A pickle is a program for Python's unpickler, and a hostile one can make Python run anything.
//! This reader runs none of it: it interprets the opcodes that build containers and numbers, and
//! accepts only the few globals a tensor checkpoint refers to (`collections.OrderedDict`,
//! `torch._utils._rebuild_tensor_v2` and its relatives, the `torch.*Storage` types), which it
//! implements itself. Any other global, or an opcode outside that set, is refused with an error
//! that names it; nothing is ever called.
//!
//! It does not decide what the tensors mean (the engine does) nor where the file came from.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use anyhow::{anyhow, bail, Context, Result};
use tch::{Kind, Tensor};

/// Every tensor of a PyTorch checkpoint holding a state dict (name → tensor), in its stored
/// precision.
pub fn read_tensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let name = path.display();
    let mut magic = [0u8; 4];
    File::open(path)
        .with_context(|| format!("cannot open the weights file {name}"))?
        .read_exact(&mut magic)
        .map_err(|_| anyhow!("the weights file {name} is too short to be a PyTorch checkpoint; delete it and fetch it again"))?;
    let result = if &magic == b"PK\x03\x04" { read_zip(path) } else { read_legacy(path) };
    result.map_err(|e| anyhow!("the PyTorch checkpoint {name}: {e:#}"))
}

/// PyTorch ≥ 1.6: a zip (stored, not compressed) with the pickle and one entry per storage.
fn read_zip(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let file = File::open(path)?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| anyhow!("it is not a readable zip archive ({e}); it may be truncated: delete it and fetch it again"))?;
    let pickle_names: Vec<String> = archive.file_names().filter(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1).map(str::to_string).collect();
    let [pickle_name] = pickle_names.as_slice() else {
        bail!("it is a zip archive but not a PyTorch checkpoint (expected one <name>/data.pkl, found {})", pickle_names.len());
    };
    let prefix = pickle_name.trim_end_matches("data.pkl").to_string();
    if let Ok(mut order) = archive.by_name(&format!("{prefix}byteorder")) {
        let mut text = String::new();
        order.read_to_string(&mut text)?;
        if text.trim() != "little" {
            bail!("its tensors are stored {} endian; precis reads little-endian checkpoints only", text.trim());
        }
    }
    let mut program = Vec::new();
    archive.by_name(pickle_name)?.read_to_end(&mut program)?;
    let root = Unpickler::new(&mut program.as_slice(), PersistentIds::Zip).run()?;
    let mut storages: HashMap<String, Tensor> = HashMap::new();
    build_tensors(root, |storage| {
        if let Some(tensor) = storages.get(&storage.key) {
            return Ok(tensor.shallow_clone());
        }
        let entry_name = format!("{prefix}data/{}", storage.key);
        let mut entry = archive.by_name(&entry_name).map_err(|_| anyhow!("storage {} is missing from the archive ({entry_name})", storage.key))?;
        let bytes = storage.bytes()?;
        if entry.size() < bytes {
            bail!("storage {} holds {} bytes, fewer than its {} elements need; the file may be corrupt", storage.key, entry.size(), storage.numel);
        }
        let mut data = vec![0u8; bytes as usize];
        entry.read_exact(&mut data).map_err(|e| anyhow!("storage {} cannot be read ({e}); the file may be truncated", storage.key))?;
        let tensor = Tensor::f_from_data_size(&data, &[storage.numel as i64], storage.kind)?;
        storages.insert(storage.key.clone(), tensor.shallow_clone());
        Ok(tensor)
    })
}

/// `0x1950a86a20f9469cfc6c`, the first pickle of a legacy checkpoint, little-endian as LONG1 writes it.
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/// PyTorch < 1.6 (or `_use_new_zipfile_serialization=False`): magic number, protocol version and
/// system info pickles, the object pickle, the pickled list of storage keys, then each storage as
/// its element count (8 bytes, little-endian) followed by its bytes, in the order of that list.
fn read_legacy(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let mut reader = BufReader::new(File::open(path)?);
    let not_torch = || anyhow!("it is neither a zip archive nor a legacy PyTorch checkpoint; it may be a file of another library, or corrupt");
    match Unpickler::new(&mut reader, PersistentIds::Refuse).run() {
        Ok(Value::BigInt(bytes)) if bytes == LEGACY_MAGIC => {}
        _ => return Err(not_torch()),
    }
    match Unpickler::new(&mut reader, PersistentIds::Refuse).run()? {
        Value::Int(1001) => {}
        other => bail!("unsupported legacy protocol version {other:?}"),
    }
    let sys_info = Unpickler::new(&mut reader, PersistentIds::Refuse).run()?;
    if let Value::Dict(entries) = &sys_info {
        let little = entries.borrow().iter().find(|(k, _)| matches!(k, Value::Str(s) if s == "little_endian")).map(|(_, v)| v.clone());
        if matches!(little, Some(Value::Bool(false))) {
            bail!("its tensors are stored big endian; precis reads little-endian checkpoints only");
        }
    }
    let root = Unpickler::new(&mut reader, PersistentIds::Legacy).run()?;
    let keys = match Unpickler::new(&mut reader, PersistentIds::Refuse).run()? {
        Value::List(keys) => keys.borrow().iter().map(|k| k.as_str().map(str::to_string)).collect::<Option<Vec<_>>>(),
        _ => None,
    }
    .ok_or_else(|| anyhow!("its list of storage keys is malformed"))?;
    // The storages' element types come from the object pickle's references to them.
    let mut kinds: HashMap<String, Kind> = HashMap::new();
    collect_storage_kinds(&root, &mut kinds);
    let mut storages: HashMap<String, Tensor> = HashMap::new();
    for key in keys {
        let mut count = [0u8; 8];
        reader.read_exact(&mut count).map_err(|_| anyhow!("it ends before storage {key}; it may be truncated"))?;
        let numel = u64::from_le_bytes(count);
        let Some(&kind) = kinds.get(&key) else {
            // A storage no tensor uses: skip its bytes (its element size is unknown, so it must be empty).
            if numel != 0 {
                bail!("storage {key} is not used by any tensor and its size is unknown");
            }
            continue;
        };
        let storage = StorageRef { key: key.clone(), kind, numel };
        let mut data = vec![0u8; storage.bytes()? as usize];
        reader.read_exact(&mut data).map_err(|_| anyhow!("storage {key} is cut short; the file may be truncated"))?;
        storages.insert(key, Tensor::f_from_data_size(&data, &[numel as i64], kind)?);
    }
    build_tensors(root, |storage| {
        let tensor = storages.get(&storage.key).ok_or_else(|| anyhow!("storage {} is missing from the file", storage.key))?;
        if tensor.numel() as u64 != storage.numel {
            bail!("storage {} has {} elements in the file but the pickle says {}", storage.key, tensor.numel(), storage.numel);
        }
        Ok(tensor.shallow_clone())
    })
}

fn collect_storage_kinds(value: &Value, kinds: &mut HashMap<String, Kind>) {
    match value {
        Value::Tensor(tensor) => {
            kinds.insert(tensor.storage.key.clone(), tensor.storage.kind);
        }
        Value::Dict(entries) => entries.borrow().iter().for_each(|(_, v)| collect_storage_kinds(v, kinds)),
        Value::List(items) => items.borrow().iter().for_each(|v| collect_storage_kinds(v, kinds)),
        Value::Tuple(items) => items.iter().for_each(|v| collect_storage_kinds(v, kinds)),
        _ => {}
    }
}

/// The state dict's tensors, each a view of its storage (from `storage_of`) with the pickle's
/// offset, sizes and strides, made contiguous. Nested dicts (`{"model": {…}}`) are flattened with
/// `.`-joined names.
fn build_tensors(root: Value, mut storage_of: impl FnMut(&StorageRef) -> Result<Tensor>) -> Result<Vec<(String, Tensor)>> {
    let mut flat = Vec::new();
    flatten(&root, "", &mut flat)?;
    if flat.is_empty() {
        bail!("it holds no tensors");
    }
    let mut tensors = Vec::with_capacity(flat.len());
    for (name, tensor) in flat {
        let storage = storage_of(&tensor.storage)?;
        let numel = tensor.storage.numel as i64;
        let extent: i64 = tensor.size.iter().zip(&tensor.stride).map(|(size, stride)| (size - 1) * stride).sum();
        let empty = tensor.size.iter().any(|&size| size == 0);
        if tensor.offset < 0 || tensor.size.iter().any(|&s| s < 0) || tensor.stride.iter().any(|&s| s < 0) || (!empty && tensor.offset + extent >= numel) {
            bail!("tensor {name} reaches outside its storage ({numel} elements); the file is corrupt");
        }
        let view = storage.f_as_strided(&tensor.size, &tensor.stride, Some(tensor.offset))?.f_contiguous()?;
        tensors.push((name, view));
    }
    Ok(tensors)
}

fn flatten(value: &Value, prefix: &str, out: &mut Vec<(String, TensorRef)>) -> Result<()> {
    let Value::Dict(entries) = value else {
        bail!("it does not hold a state dict (a mapping of names to tensors)");
    };
    for (key, item) in entries.borrow().iter() {
        let key = key.as_str().ok_or_else(|| anyhow!("a state dict key is not a string: {key:?}"))?;
        let name = if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") };
        match item {
            Value::Tensor(tensor) => out.push((name, tensor.clone())),
            Value::Dict(_) => flatten(item, &name, out)?,
            // Numbers, strings and None beside the tensors (epoch counters, versions) are not weights.
            Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_) => {}
            other => bail!("entry {name} is neither a tensor nor a mapping of them ({})", other.kind_name()),
        }
    }
    Ok(())
}

/// A storage a tensor refers to: its key (the zip entry or legacy key), element type and count.
#[derive(Debug, Clone, PartialEq)]
struct StorageRef {
    key: String,
    kind: Kind,
    numel: u64,
}

impl StorageRef {
    fn bytes(&self) -> Result<u64> {
        self.numel
            .checked_mul(self.kind.elt_size_in_bytes() as u64)
            .filter(|&bytes| bytes < (1 << 40))
            .ok_or_else(|| anyhow!("storage {} claims {} elements, more than any model has", self.key, self.numel))
    }
}

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, …)`, not yet read from the file.
#[derive(Debug, Clone, PartialEq)]
struct TensorRef {
    storage: StorageRef,
    offset: i64,
    size: Vec<i64>,
    stride: Vec<i64>,
}

/// The globals a tensor checkpoint refers to; nothing else is accepted.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Global {
    OrderedDict,
    RebuildTensorV2,
    RebuildTensor,
    RebuildParameter,
    RebuildParameterWithState,
    StorageType(Kind),
}

impl Global {
    fn lookup(module: &str, name: &str) -> Option<Global> {
        Some(match (module, name) {
            ("collections", "OrderedDict") => Global::OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
            ("torch._utils", "_rebuild_tensor") => Global::RebuildTensor,
            ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
            ("torch._utils", "_rebuild_parameter_with_state") => Global::RebuildParameterWithState,
            ("torch", storage) => Global::StorageType(match storage {
                "FloatStorage" => Kind::Float,
                "HalfStorage" => Kind::Half,
                "BFloat16Storage" => Kind::BFloat16,
                "DoubleStorage" => Kind::Double,
                "LongStorage" => Kind::Int64,
                "IntStorage" => Kind::Int,
                "ShortStorage" => Kind::Int16,
                "CharStorage" => Kind::Int8,
                "ByteStorage" => Kind::Uint8,
                "BoolStorage" => Kind::Bool,
                _ => return None,
            }),
            _ => return None,
        })
    }
}

/// What the unpickler builds. (Some payloads are only shown, through `Debug`, in error messages.)
#[derive(Debug, Clone)]
#[allow(dead_code)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer wider than 64 bits, as its little-endian two's-complement bytes.
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    // Lists and dicts are shared: the memo and the stack see the same container, as in Python.
    List(Rc<RefCell<Vec<Value>>>),
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    Global(Global),
    Storage(StorageRef),
    Tensor(TensorRef),
    Mark,
}

impl Value {
    fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::BigInt(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "a tuple",
            Value::List(_) => "a list",
            Value::Dict(_) => "a dict",
            Value::Global(_) => "a class or function",
            Value::Storage(_) => "a storage",
            Value::Tensor(_) => "a tensor",
            Value::Mark => "a mark",
        }
    }
}

/// How `BINPERSID` references (storages) are read.
#[derive(Clone, Copy, PartialEq)]
enum PersistentIds {
    /// `('storage', storage_type, key, location, numel)`.
    Zip,
    /// `('storage', storage_type, root_key, location, numel, view_metadata)`.
    Legacy,
    /// Not expected in this pickle.
    Refuse,
}

/// Opcode counts above this are not a state dict (a guard against endless programs).
const MAX_OPCODES: usize = 100_000_000;

struct Unpickler<'a> {
    input: &'a mut dyn Read,
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
    persistent_ids: PersistentIds,
}

impl<'a> Unpickler<'a> {
    fn new(input: &'a mut dyn Read, persistent_ids: PersistentIds) -> Unpickler<'a> {
        Unpickler { input, stack: Vec::new(), memo: HashMap::new(), persistent_ids }
    }

    fn bytes(&mut self, count: usize) -> Result<Vec<u8>> {
        if count > (1 << 31) {
            bail!("the pickle declares a {count}-byte item");
        }
        let mut buffer = vec![0u8; count];
        self.input.read_exact(&mut buffer).map_err(|_| anyhow!("the pickle ends early; the file may be truncated"))?;
        Ok(buffer)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn line(&mut self) -> Result<String> {
        let mut line = Vec::new();
        loop {
            let byte = self.byte()?;
            if byte == b'\n' {
                break;
            }
            line.push(byte);
            if line.len() > 4096 {
                bail!("the pickle holds an over-long text line");
            }
        }
        String::from_utf8(line).map_err(|_| anyhow!("the pickle holds a text line that is not UTF-8"))
    }

    fn pop(&mut self) -> Result<Value> {
        self.stack.pop().ok_or_else(|| anyhow!("the pickle pops from an empty stack; it is malformed"))
    }

    /// The values above the topmost mark, mark removed.
    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let mark = self.stack.iter().rposition(|v| matches!(v, Value::Mark)).ok_or_else(|| anyhow!("the pickle has no mark where one is needed"))?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items)
    }

    fn top(&mut self) -> Result<&mut Value> {
        self.stack.last_mut().ok_or_else(|| anyhow!("the pickle reads an empty stack; it is malformed"))
    }

    fn memo_get(&self, index: u32) -> Result<Value> {
        self.memo.get(&index).cloned().ok_or_else(|| anyhow!("the pickle refers to memo entry {index}, which it never stored"))
    }

    fn memo_put(&mut self, index: u32) -> Result<()> {
        let value = self.stack.last().cloned().ok_or_else(|| anyhow!("the pickle memoizes an empty stack"))?;
        self.memo.insert(index, value);
        Ok(())
    }

    fn run(mut self) -> Result<Value> {
        for _ in 0..MAX_OPCODES {
            let opcode = self.byte()?;
            match opcode {
                0x80 => {
                    let protocol = self.byte()?;
                    if protocol > 5 {
                        bail!("unsupported pickle protocol {protocol}");
                    }
                }
                0x95 => {
                    self.bytes(8)?; // FRAME: a length hint
                }
                b'.' => return self.pop(),
                b'(' => self.stack.push(Value::Mark),
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'J' => {
                    let b = self.bytes(4)?;
                    self.stack.push(Value::Int(i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))));
                }
                b'K' => {
                    let value = self.byte()?;
                    self.stack.push(Value::Int(i64::from(value)));
                }
                b'M' => {
                    let b = self.bytes(2)?;
                    self.stack.push(Value::Int(i64::from(u16::from_le_bytes([b[0], b[1]]))));
                }
                0x8a | 0x8b => {
                    let count = if opcode == 0x8a { usize::from(self.byte()?) } else { self.u32()? as usize };
                    let bytes = self.bytes(count)?;
                    self.stack.push(long_from_bytes(bytes));
                }
                b'I' | b'L' => {
                    let line = self.line()?;
                    let text = line.trim_end_matches('L');
                    self.stack.push(match text {
                        "01" => Value::Bool(true),
                        "00" => Value::Bool(false),
                        _ => Value::Int(text.parse().map_err(|_| anyhow!("the pickle holds a malformed integer {line:?}"))?),
                    });
                }
                b'G' => {
                    let b = self.bytes(8)?;
                    self.stack.push(Value::Float(f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])));
                }
                b'F' => {
                    let line = self.line()?;
                    self.stack.push(Value::Float(line.parse().map_err(|_| anyhow!("the pickle holds a malformed float {line:?}"))?));
                }
                b'X' | 0x8c | 0x8d | b'T' | b'U' => {
                    let count = match opcode {
                        0x8c | b'U' => usize::from(self.byte()?),
                        0x8d => {
                            let b = self.bytes(8)?;
                            u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as usize
                        }
                        _ => self.u32()? as usize,
                    };
                    let bytes = self.bytes(count)?;
                    // Protocol-1 byte strings (T, U) hold text in the checkpoints that use them.
                    self.stack.push(Value::Str(String::from_utf8(bytes).map_err(|_| anyhow!("the pickle holds a string that is not UTF-8"))?));
                }
                b'B' | b'C' => {
                    let count = if opcode == b'C' { usize::from(self.byte()?) } else { self.u32()? as usize };
                    let bytes = self.bytes(count)?;
                    self.stack.push(Value::Bytes(bytes));
                }
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items));
                }
                0x85..=0x87 => {
                    let count = usize::from(opcode - 0x84);
                    if self.stack.len() < count {
                        bail!("the pickle builds a tuple from too few values");
                    }
                    let items = self.stack.split_off(self.stack.len() - count);
                    self.stack.push(Value::Tuple(items));
                }
                b']' => self.stack.push(Value::List(Rc::new(RefCell::new(Vec::new())))),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(Rc::new(RefCell::new(items))));
                }
                b'}' => self.stack.push(Value::Dict(Rc::new(RefCell::new(Vec::new())))),
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = pairs(items)?;
                    self.stack.push(Value::Dict(Rc::new(RefCell::new(pairs))));
                }
                b'a' => {
                    let item = self.pop()?;
                    match self.top()? {
                        Value::List(list) => list.borrow_mut().push(item),
                        other => bail!("the pickle appends to {}", other.kind_name()),
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    match self.top()? {
                        Value::List(list) => list.borrow_mut().extend(items),
                        other => bail!("the pickle appends to {}", other.kind_name()),
                    }
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    match self.top()? {
                        Value::Dict(dict) => set_item(&mut dict.borrow_mut(), key, value),
                        other => bail!("the pickle sets an item of {}", other.kind_name()),
                    }
                }
                b'u' => {
                    let items = pairs(self.pop_mark()?)?;
                    match self.top()? {
                        Value::Dict(dict) => {
                            let mut dict = dict.borrow_mut();
                            for (key, value) in items {
                                set_item(&mut dict, key, value);
                            }
                        }
                        other => bail!("the pickle sets items of {}", other.kind_name()),
                    }
                }
                b'q' => {
                    let index = u32::from(self.byte()?);
                    self.memo_put(index)?;
                }
                b'r' => {
                    let index = self.u32()?;
                    self.memo_put(index)?;
                }
                b'p' => {
                    let line = self.line()?;
                    let index = line.parse().map_err(|_| anyhow!("the pickle holds a malformed memo index {line:?}"))?;
                    self.memo_put(index)?;
                }
                0x94 => {
                    let index = self.memo.len() as u32;
                    self.memo_put(index)?;
                }
                b'h' => {
                    let index = u32::from(self.byte()?);
                    let value = self.memo_get(index)?;
                    self.stack.push(value);
                }
                b'j' => {
                    let index = self.u32()?;
                    let value = self.memo_get(index)?;
                    self.stack.push(value);
                }
                b'g' => {
                    let line = self.line()?;
                    let index = line.parse().map_err(|_| anyhow!("the pickle holds a malformed memo index {line:?}"))?;
                    let value = self.memo_get(index)?;
                    self.stack.push(value);
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let value = self.top()?.clone();
                    self.stack.push(value);
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(global(&module, &name)?));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Some(module), Some(name)) = (module.as_str(), name.as_str()) else {
                        bail!("the pickle names a global with values that are not strings");
                    };
                    let global = global(module, name)?;
                    self.stack.push(Value::Global(global));
                }
                b'R' => {
                    let arguments = self.pop()?;
                    let callable = self.pop()?;
                    let Value::Tuple(arguments) = arguments else {
                        bail!("the pickle calls with arguments that are not a tuple");
                    };
                    let Value::Global(global) = callable else {
                        bail!("the pickle calls {}, which is not a function precis knows", callable.kind_name());
                    };
                    let value = call(global, arguments)?;
                    self.stack.push(value);
                }
                b'b' => {
                    // BUILD sets an object's state; the only state a checkpoint sets is the
                    // `_metadata` of an OrderedDict state dict (module versions), not needed here.
                    let _state = self.pop()?;
                    match self.top()? {
                        Value::Dict(_) => {}
                        other => bail!("the pickle sets the state of {}, which a tensor checkpoint never does", other.kind_name()),
                    }
                }
                b'Q' => {
                    let id = self.pop()?;
                    let storage = self.persistent_load(id)?;
                    self.stack.push(storage);
                }
                b'P' => bail!("the pickle uses a text persistent id, which PyTorch checkpoints do not"),
                other => bail!(
                    "the pickle uses opcode {:?} (0x{other:02x}), which a tensor checkpoint does not need; precis refuses to go on \
                     (it never runs code from a pickle)",
                    char::from(other)
                ),
            }
        }
        bail!("the pickle is longer than any state dict ({MAX_OPCODES} operations)")
    }

    /// A storage reference: `('storage', storage_type, key, location, numel[, view_metadata])`.
    fn persistent_load(&self, id: Value) -> Result<Value> {
        let Value::Tuple(fields) = id else {
            bail!("the pickle has a persistent id that is not a tuple");
        };
        let expected = match self.persistent_ids {
            PersistentIds::Zip => 5,
            PersistentIds::Legacy => 6,
            PersistentIds::Refuse => bail!("the pickle refers to a storage where none belongs"),
        };
        if fields.len() != expected || fields[0].as_str() != Some("storage") {
            bail!("the pickle has a persistent id that is not a storage reference: {fields:?}");
        }
        let Value::Global(Global::StorageType(kind)) = fields[1] else {
            bail!("a storage reference names no storage type: {:?}", fields[1]);
        };
        let key = match &fields[2] {
            Value::Str(key) => key.clone(),
            Value::Int(key) => key.to_string(),
            other => bail!("a storage key is {}", other.kind_name()),
        };
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            bail!("storage key {key:?} cannot name an entry of the archive");
        }
        let numel = fields[4].as_int().filter(|&n| n >= 0).ok_or_else(|| anyhow!("storage {key} has no element count"))? as u64;
        if expected == 6 && !matches!(fields[5], Value::None) {
            bail!("storage {key} is a view of another storage (an old PyTorch layout precis does not read); re-save the checkpoint");
        }
        Ok(Value::Storage(StorageRef { key, kind, numel }))
    }
}

/// A global the reader accepts, or the error that refuses the file.
fn global(module: &str, name: &str) -> Result<Global> {
    Global::lookup(module, name).ok_or_else(|| {
        anyhow!(
            "the pickle refers to the Python global {module}.{name}, which is not part of a tensor checkpoint; \
             precis refuses it and runs nothing from the file. Use the repository's safetensors weights, or convert \
             this file with a tool you trust"
        )
    })
}

/// What an accepted global returns for these arguments, built by precis (nothing is executed).
fn call(global: Global, arguments: Vec<Value>) -> Result<Value> {
    let int_list = |value: &Value, what: &str| -> Result<Vec<i64>> {
        match value {
            Value::Tuple(items) => items.iter().map(|v| v.as_int().ok_or_else(|| anyhow!("a tensor {what} holds {}", v.kind_name()))).collect(),
            other => bail!("a tensor {what} is {}", other.kind_name()),
        }
    };
    match global {
        Global::OrderedDict => match arguments.as_slice() {
            [] => Ok(Value::Dict(Rc::new(RefCell::new(Vec::new())))),
            [Value::List(items)] => {
                let mut entries = Vec::new();
                for item in items.borrow().iter() {
                    match item {
                        Value::Tuple(pair) if pair.len() == 2 => entries.push((pair[0].clone(), pair[1].clone())),
                        other => bail!("OrderedDict built from {}", other.kind_name()),
                    }
                }
                Ok(Value::Dict(Rc::new(RefCell::new(entries))))
            }
            other => bail!("OrderedDict called with {} arguments", other.len()),
        },
        Global::RebuildTensorV2 | Global::RebuildTensor => {
            if arguments.len() < 4 {
                bail!("_rebuild_tensor called with {} arguments", arguments.len());
            }
            let Value::Storage(storage) = &arguments[0] else {
                bail!("_rebuild_tensor called on {}, not a storage", arguments[0].kind_name());
            };
            let offset = arguments[1].as_int().ok_or_else(|| anyhow!("a tensor offset is {}", arguments[1].kind_name()))?;
            let size = int_list(&arguments[2], "size")?;
            let stride = int_list(&arguments[3], "stride")?;
            if size.len() != stride.len() {
                bail!("a tensor has {} sizes but {} strides", size.len(), stride.len());
            }
            Ok(Value::Tensor(TensorRef { storage: storage.clone(), offset, size, stride }))
        }
        Global::RebuildParameter | Global::RebuildParameterWithState => match arguments.first() {
            Some(Value::Tensor(tensor)) => Ok(Value::Tensor(tensor.clone())),
            _ => bail!("_rebuild_parameter called without a tensor"),
        },
        Global::StorageType(_) => bail!("the pickle calls a storage type, which a checkpoint never does"),
    }
}

fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>> {
    if items.len() % 2 != 0 {
        bail!("the pickle sets dict items from an odd number of values");
    }
    let mut pairs = Vec::with_capacity(items.len() / 2);
    let mut items = items.into_iter();
    while let (Some(key), Some(value)) = (items.next(), items.next()) {
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// Python's dict assignment: an existing key keeps its place and takes the new value.
fn set_item(dict: &mut Vec<(Value, Value)>, key: Value, value: Value) {
    if let Some(key_str) = key.as_str() {
        if let Some(entry) = dict.iter_mut().find(|(k, _)| k.as_str() == Some(key_str)) {
            entry.1 = value;
            return;
        }
    }
    dict.push((key, value));
}

/// LONG1 / LONG4: little-endian two's complement of any width.
fn long_from_bytes(bytes: Vec<u8>) -> Value {
    if bytes.is_empty() {
        return Value::Int(0);
    }
    if bytes.len() > 8 {
        return Value::BigInt(bytes);
    }
    let negative = bytes[bytes.len() - 1] & 0x80 != 0;
    let mut buffer = [if negative { 0xff } else { 0 }; 8];
    buffer[..bytes.len()].copy_from_slice(&bytes);
    Value::Int(i64::from_le_bytes(buffer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(program: &[u8]) -> Result<Value> {
        let mut input = program;
        Unpickler::new(&mut input, PersistentIds::Zip).run()
    }

    #[test]
    fn builds_containers_and_numbers() {
        // pickle.dumps({'a': [1, -2, 300, 2**40], 'b': (True, None, 1.5)}, protocol=2)
        let program = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01J\xfe\xff\xff\xffM,\x01\x8a\x06\x00\x00\x00\x00\x00\x01eX\x01\x00\x00\x00bq\x03\x88NG?\xf8\x00\x00\x00\x00\x00\x00\x87q\x04u.";
        let Value::Dict(dict) = run(program).unwrap() else { panic!("not a dict") };
        let dict = dict.borrow();
        let Value::List(list) = &dict[0].1 else { panic!("not a list") };
        let ints: Vec<i64> = list.borrow().iter().map(|v| v.as_int().unwrap()).collect();
        assert_eq!(ints, [1, -2, 300, 1 << 40]);
        assert!(matches!(&dict[1].1, Value::Tuple(t) if matches!(t[..], [Value::Bool(true), Value::None, Value::Float(f)] if f == 1.5)));
    }

    #[test]
    fn refuses_foreign_globals_and_unknown_opcodes_without_running_them() {
        // pickle.dumps of an object whose __reduce__ is (os.system, ('echo pwned',)), protocol 2
        let program = b"\x80\x02cposix\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.";
        let error = run(program).unwrap_err().to_string();
        assert!(error.contains("posix.system") && error.contains("refuses"), "{error}");
        // STACK_GLOBAL (protocol 4) is checked the same way.
        let program = b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93.";
        assert!(run(program).unwrap_err().to_string().contains("builtins.eval"));
        // INST / OBJ build arbitrary objects: refused.
        assert!(run(b"(i__main__\nX\n.").unwrap_err().to_string().contains("opcode"));
    }

    #[test]
    fn long_integers_of_any_width() {
        assert!(matches!(long_from_bytes(vec![0xff]), Value::Int(-1)));
        assert!(matches!(long_from_bytes(vec![0x00, 0x01]), Value::Int(256)));
        assert!(matches!(long_from_bytes(LEGACY_MAGIC.to_vec()), Value::BigInt(b) if b == LEGACY_MAGIC));
    }
}

//! A ggml accelerator device that runs llama.cpp's batched Q4_1 matrix products with
//! [`crate::q4_1`], registered in ggml's backend registry before any context is made.
//!
//! It works as ggml's own BLAS device does: an `ACCEL` device whose buffers are host memory, so
//! llama.cpp adds its backend to every context ahead of the CPU one, and ggml's scheduler hands it
//! each matrix product whose weights are Q4_1 and whose batch has more than one token (one token
//! stays on ggml's own kernel); everything else, and every weight, stays on the CPU backend, with
//! no copies. Its threads are ggml's OpenMP threads, so the two never compete for the cores.
//!
//! The structs mirror `ggml/src/ggml-backend-impl.h` of the llama.cpp that `llama-cpp-sys-2`
//! (pinned in Cargo.toml) vendors, at `GGML_BACKEND_API_VERSION` 3.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use llama_cpp_sys_2 as sys;

use crate::q4_1;

/// Registers the device once per process, unless the kernel cannot give ggml's outputs on this
/// CPU (checked against ggml's own kernel first); why not, where it is not. Whether to use it at
/// all is the caller's setting: not calling this leaves every product to ggml's own kernels.
pub fn register() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            // SAFETY: idempotent; the check needs ggml's CPU kernels ready.
            unsafe { sys::ggml_cpu_init() };
            q4_1::check_against_ggml(8, 18 * q4_1::BLOCK)?;
            register_device();
            Ok(())
        })
        .clone()
}

/// Products the kernel has made in this process.
pub fn products() -> u64 {
    PRODUCTS.load(Ordering::Relaxed)
}

static PRODUCTS: AtomicU64 = AtomicU64::new(0);

fn register_device() {
    let reg = Box::leak(Box::new(Reg {
        api_version: 3,
        iface: RegI {
            get_name: reg_name,
            get_device_count: reg_device_count,
            get_device: reg_device,
            get_proc_address: Some(reg_proc_address),
        },
        context: std::ptr::null_mut(),
    }));
    let device = Box::leak(Box::new(Device {
        iface: DEVICE_I,
        reg,
        context: std::ptr::null_mut(),
    }));
    reg.context = (device as *mut Device).cast();
    // SAFETY: `reg` is a complete registry entry that lives for the rest of the process.
    unsafe { sys::ggml_backend_register((reg as *mut Reg).cast()) };
}

const NAME: &CStr = c"bestofn-q4_1";

type Unused = Option<unsafe extern "C" fn()>;

#[repr(C)]
struct RegI {
    get_name: unsafe extern "C" fn(*mut Reg) -> *const c_char,
    get_device_count: unsafe extern "C" fn(*mut Reg) -> usize,
    get_device: unsafe extern "C" fn(*mut Reg, usize) -> *mut Device,
    get_proc_address: Option<unsafe extern "C" fn(*mut Reg, *const c_char) -> *mut c_void>,
}

#[repr(C)]
struct Reg {
    api_version: c_int,
    iface: RegI,
    context: *mut c_void,
}

#[repr(C)]
struct DeviceI {
    get_name: unsafe extern "C" fn(*mut Device) -> *const c_char,
    get_description: unsafe extern "C" fn(*mut Device) -> *const c_char,
    get_memory: unsafe extern "C" fn(*mut Device, *mut usize, *mut usize),
    get_type: unsafe extern "C" fn(*mut Device) -> sys::ggml_backend_dev_type,
    get_props: unsafe extern "C" fn(*mut Device, *mut sys::ggml_backend_dev_props),
    init_backend: unsafe extern "C" fn(*mut Device, *const c_char) -> *mut Backend,
    get_buffer_type: unsafe extern "C" fn(*mut Device) -> sys::ggml_backend_buffer_type_t,
    get_host_buffer_type: Unused,
    buffer_from_host_ptr: Option<
        unsafe extern "C" fn(*mut Device, *mut c_void, usize, usize) -> sys::ggml_backend_buffer_t,
    >,
    supports_op: unsafe extern "C" fn(*mut Device, *const sys::ggml_tensor) -> bool,
    supports_buft: unsafe extern "C" fn(*mut Device, sys::ggml_backend_buffer_type_t) -> bool,
    offload_op: Unused,
    event_new: Unused,
    event_free: Unused,
    event_synchronize: Unused,
}

#[repr(C)]
struct Device {
    iface: DeviceI,
    reg: *mut Reg,
    context: *mut c_void,
}

#[repr(C)]
struct BackendI {
    get_name: unsafe extern "C" fn(*mut Backend) -> *const c_char,
    free: unsafe extern "C" fn(*mut Backend),
    set_tensor_async: Unused,
    get_tensor_async: Unused,
    set_tensor_2d_async: Unused,
    get_tensor_2d_async: Unused,
    cpy_tensor_async: Unused,
    synchronize: Unused,
    graph_plan_create: Unused,
    graph_plan_free: Unused,
    graph_plan_update: Unused,
    graph_plan_compute: Unused,
    graph_compute: unsafe extern "C" fn(*mut Backend, *mut sys::ggml_cgraph) -> sys::ggml_status,
    event_record: Unused,
    event_wait: Unused,
    graph_optimize: Unused,
}

#[repr(C)]
struct Backend {
    guid: *mut sys::ggml_guid,
    iface: BackendI,
    device: *mut Device,
    context: *mut Context,
}

/// One backend's state: its thread count and its buffer of quantized token columns.
struct Context {
    threads: c_int,
    columns: q4_1::Columns,
}

const DEVICE_I: DeviceI = DeviceI {
    get_name: device_name,
    get_description: device_name,
    get_memory: device_memory,
    get_type: device_type,
    get_props: device_props,
    init_backend,
    get_buffer_type: device_buffer_type,
    get_host_buffer_type: None,
    buffer_from_host_ptr: Some(device_buffer_from_host_ptr),
    supports_op,
    supports_buft,
    offload_op: None,
    event_new: None,
    event_free: None,
    event_synchronize: None,
};

unsafe extern "C" fn reg_name(_: *mut Reg) -> *const c_char {
    NAME.as_ptr()
}

unsafe extern "C" fn reg_device_count(_: *mut Reg) -> usize {
    1
}

unsafe extern "C" fn reg_device(reg: *mut Reg, _: usize) -> *mut Device {
    (*reg).context.cast()
}

unsafe extern "C" fn reg_proc_address(_: *mut Reg, name: *const c_char) -> *mut c_void {
    if CStr::from_ptr(name) == c"ggml_backend_set_n_threads" {
        let set: unsafe extern "C" fn(*mut Backend, c_int) = set_n_threads;
        set as *mut c_void
    } else {
        std::ptr::null_mut()
    }
}

unsafe extern "C" fn set_n_threads(backend: *mut Backend, threads: c_int) {
    (*(*backend).context).threads = threads.max(1);
}

unsafe extern "C" fn device_name(_: *mut Device) -> *const c_char {
    NAME.as_ptr()
}

unsafe extern "C" fn device_memory(_: *mut Device, free: *mut usize, total: *mut usize) {
    *free = 0;
    *total = 0;
}

unsafe extern "C" fn device_type(_: *mut Device) -> sys::ggml_backend_dev_type {
    sys::GGML_BACKEND_DEVICE_TYPE_ACCEL
}

unsafe extern "C" fn device_props(device: *mut Device, props: *mut sys::ggml_backend_dev_props) {
    *props = sys::ggml_backend_dev_props {
        name: NAME.as_ptr(),
        description: NAME.as_ptr(),
        memory_free: 0,
        memory_total: 0,
        type_: device_type(device),
        device_id: std::ptr::null(),
        caps: sys::ggml_backend_dev_caps {
            async_: false,
            host_buffer: false,
            buffer_from_host_ptr: true,
            events: false,
            mmap_support: true,
        },
    };
}

static GUID: [u8; 16] = *b"bestofn-q4_1-mm\0";

unsafe extern "C" fn init_backend(device: *mut Device, _: *const c_char) -> *mut Backend {
    let context = Box::into_raw(Box::new(Context {
        threads: 1,
        columns: q4_1::Columns::default(),
    }));
    Box::into_raw(Box::new(Backend {
        guid: GUID.as_ptr() as *mut sys::ggml_guid,
        iface: BackendI {
            get_name: backend_name,
            free: backend_free,
            set_tensor_async: None,
            get_tensor_async: None,
            set_tensor_2d_async: None,
            get_tensor_2d_async: None,
            cpy_tensor_async: None,
            synchronize: None,
            graph_plan_create: None,
            graph_plan_free: None,
            graph_plan_update: None,
            graph_plan_compute: None,
            graph_compute,
            event_record: None,
            event_wait: None,
            graph_optimize: None,
        },
        device,
        context,
    }))
}

unsafe extern "C" fn backend_name(_: *mut Backend) -> *const c_char {
    NAME.as_ptr()
}

unsafe extern "C" fn backend_free(backend: *mut Backend) {
    let backend = Box::from_raw(backend);
    drop(Box::from_raw(backend.context));
}

unsafe extern "C" fn device_buffer_type(_: *mut Device) -> sys::ggml_backend_buffer_type_t {
    sys::ggml_backend_cpu_buffer_type()
}

unsafe extern "C" fn device_buffer_from_host_ptr(
    _: *mut Device,
    ptr: *mut c_void,
    size: usize,
    _: usize,
) -> sys::ggml_backend_buffer_t {
    sys::ggml_backend_cpu_buffer_from_ptr(ptr, size)
}

unsafe extern "C" fn supports_buft(_: *mut Device, buft: sys::ggml_backend_buffer_type_t) -> bool {
    sys::ggml_backend_buft_is_host(buft)
}

/// The products the kernel takes: Q4_1 weights (a plain matrix) times more than one f32 token
/// column, into f32; and the layout-only ops around them, which cost nothing.
unsafe extern "C" fn supports_op(_: *mut Device, op: *const sys::ggml_tensor) -> bool {
    let op = &*op;
    match op.op {
        sys::GGML_OP_NONE
        | sys::GGML_OP_RESHAPE
        | sys::GGML_OP_VIEW
        | sys::GGML_OP_PERMUTE
        | sys::GGML_OP_TRANSPOSE => true,
        sys::GGML_OP_MUL_MAT => {
            let (weights, tokens) = (&*op.src[0], &*op.src[1]);
            weights.type_ == sys::GGML_TYPE_Q4_1
                && sys::ggml_is_contiguous(weights)
                && weights.ne[2] == 1
                && weights.ne[3] == 1
                && tokens.type_ == sys::GGML_TYPE_F32
                && tokens.nb[0] == std::mem::size_of::<f32>()
                && tokens.ne[1] > 1
                && tokens.ne[2] == 1
                && tokens.ne[3] == 1
                && op.type_ == sys::GGML_TYPE_F32
                && op.nb[0] == std::mem::size_of::<f32>()
        }
        _ => false,
    }
}

unsafe extern "C" fn graph_compute(
    backend: *mut Backend,
    graph: *mut sys::ggml_cgraph,
) -> sys::ggml_status {
    let context = &mut *(*backend).context;
    for i in 0..sys::ggml_graph_n_nodes(graph) {
        let node = &mut *sys::ggml_graph_node(graph, i);
        if node.flags & sys::GGML_TENSOR_FLAG_COMPUTE as i32 == 0 {
            continue;
        }
        match node.op {
            sys::GGML_OP_MUL_MAT => mul_mat(context, node),
            sys::GGML_OP_NONE
            | sys::GGML_OP_RESHAPE
            | sys::GGML_OP_VIEW
            | sys::GGML_OP_PERMUTE
            | sys::GGML_OP_TRANSPOSE => {}
            _ => return sys::GGML_STATUS_FAILED,
        }
    }
    sys::GGML_STATUS_SUCCESS
}

/// One product that [`supports_op`] accepted: the token columns quantized to Q8_1 by ggml's own
/// quantizer (what ggml's CPU backend does with them), then the rows split over the threads.
unsafe fn mul_mat(context: &mut Context, node: &mut sys::ggml_tensor) {
    let (weights, tokens) = (&*node.src[0], &*node.src[1]);
    let width = weights.ne[0] as usize;
    let blocks = width / q4_1::BLOCK;
    let columns = tokens.ne[1] as usize;
    let quantize = (*sys::ggml_get_type_traits_cpu(sys::GGML_TYPE_Q8_1))
        .from_float
        .expect("ggml quantizes to Q8_1");
    context.columns.reset(columns, blocks);
    for column in 0..columns {
        let values = tokens
            .data
            .cast::<u8>()
            .add(column * tokens.nb[1])
            .cast::<f32>();
        let quants = context.columns.quants_mut(column).as_mut_ptr();
        quantize(values, quants.cast(), width as i64);
    }
    context.columns.read_scales();
    let mut work = Work {
        weights: q4_1::Weights {
            data: weights.data.cast(),
            row_bytes: weights.nb[1],
            blocks,
        },
        columns: &context.columns,
        rows: weights.ne[1] as usize,
        out: node.data.cast(),
        out_stride: node.nb[1] / std::mem::size_of::<f32>(),
    };
    let threads = (context.threads as usize)
        .min(work.rows.div_ceil(64))
        .max(1);
    PRODUCTS.fetch_add(1, Ordering::Relaxed);
    GOMP_parallel(
        work_share,
        (&mut work as *mut Work<'_>).cast(),
        threads as c_uint,
        0,
    );
}

/// What each thread of one product reads.
struct Work<'a> {
    weights: q4_1::Weights,
    columns: &'a q4_1::Columns,
    rows: usize,
    out: *mut f32,
    out_stride: usize,
}

/// One thread's share of the rows, in whole pairs: every output is written by one thread.
unsafe extern "C" fn work_share(work: *mut c_void) {
    let work = &*work.cast::<Work<'_>>();
    let (thread, threads) = (
        omp_get_thread_num() as usize,
        omp_get_num_threads() as usize,
    );
    let pairs = work.rows.div_ceil(2);
    let start = (pairs * thread / threads * 2).min(work.rows);
    let end = (pairs * (thread + 1) / threads * 2).min(work.rows);
    q4_1::product(
        work.weights,
        work.columns,
        start..end,
        work.out,
        work.out_stride,
    );
}

// libgomp, which llama.cpp's OpenMP build links: the entry point GCC emits for
// `#pragma omp parallel`, so these threads are the ones ggml's CPU backend uses.
extern "C" {
    fn GOMP_parallel(
        function: unsafe extern "C" fn(*mut c_void),
        data: *mut c_void,
        threads: c_uint,
        flags: c_uint,
    );
    fn omp_get_thread_num() -> c_int;
    fn omp_get_num_threads() -> c_int;
}

//! A ggml accelerator device for llama.cpp's batched Q4_1 matrix products on x86-64.
//!
//! [`q4_1`] is the kernel (bit-identical to ggml's own `vec_dot`, so it changes speed, not
//! samples); [`accel`] registers it in ggml's backend registry, after checking it against ggml's
//! kernel on this CPU. On other architectures [`register`] says why it cannot run.

#[cfg(target_arch = "x86_64")]
mod accel;
#[cfg(target_arch = "x86_64")]
pub mod q4_1;

#[cfg(target_arch = "x86_64")]
pub use accel::{products, register};

/// Not x86-64: the kernel does not exist here.
#[cfg(not(target_arch = "x86_64"))]
pub fn register() -> Result<(), String> {
    Err("the batched Q4_1 kernel is for x86-64 only".to_owned())
}

/// Products the kernel has made in this process.
#[cfg(not(target_arch = "x86_64"))]
pub fn products() -> u64 {
    0
}

//! Build script: finds DPDK with pkg-config, generates Rust bindings for the parts of its API
//! the appliance uses (bindgen over `src/dpdk/ffi.h`), and compiles `src/dpdk/shim.c`, which
//! gives DPDK's `static inline` fast-path functions (rx/tx burst, mbuf alloc/free, rte_errno,
//! ...) real symbols that Rust can call.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    // Linking: pkg-config's default is dynamic; the PMDs are not linked but loaded by EAL
    // from its plugin directory at rte_eal_init.
    let lib = pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
        .expect("DPDK >= 22.11 not found by pkg-config (apt-get install libdpdk-dev)");

    // The pkg-config crate keeps only -I and -D; DPDK's cflags also carry
    // `-include rte_config.h` and `-march=...`, which bindgen and the shim both need.
    let cflags = dpdk_cflags();

    cc::Build::new()
        .file("src/dpdk/shim.c")
        .include("src/dpdk")
        .includes(&lib.include_paths)
        .flags(&cflags)
        .warnings(true)
        .compile("vrouter_dpdk_shim");

    let bindings = bindgen::Builder::default()
        .header("src/dpdk/ffi.h")
        .clang_arg("-Isrc/dpdk")
        .clang_args(&cflags)
        .allowlist_function("rte_.*")
        // Types come in as the allowlisted functions need them: allowlisting every rte_
        // type would drag in rte_flow's packed protocol headers, which Rust cannot express.
        .allowlist_var("RTE_.*")
        .allowlist_var("SOCKET_ID_ANY")
        .allowlist_var("LCORE_ID_ANY")
        .allowlist_function("vr_.*")
        .prepend_enum_name(false)
        // Some packed protocol headers cannot derive Debug; the safe layer needs none.
        .derive_debug(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen failed on src/dpdk/ffi.h");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("dpdk_bindings.rs");
    bindings
        .write_to_file(&out)
        .expect("cannot write the DPDK bindings");

    for f in ["src/dpdk/ffi.h", "src/dpdk/shim.h", "src/dpdk/shim.c"] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
}

/// `pkg-config --cflags libdpdk`, split on whitespace (DPDK's flags contain no quoted spaces).
fn dpdk_cflags() -> Vec<String> {
    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
    let out = Command::new(&pkg_config)
        .args(["--cflags", "libdpdk"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {pkg_config}: {e}"));
    assert!(
        out.status.success(),
        "pkg-config --cflags libdpdk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("pkg-config output is not UTF-8")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

//! Embeds libtorch's directory as an rpath, so `precis` and its tests start without the user
//! setting LD_LIBRARY_PATH (torch-sys links libtorch dynamically but records no search path).

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    if let Ok(libtorch) = std::env::var("LIBTORCH") {
        let lib_dir = std::path::Path::new(&libtorch).join("lib");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    }
}

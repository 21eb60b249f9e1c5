//! install.sh into a temporary root, twice: idempotent, keeps config and accounts.

use std::process::Command;

use crate::harness::bin;

#[test]
fn install_script_is_idempotent() {
    let root = tempfile::tempdir().expect("tempdir");
    let run = || {
        Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/install.sh"))
            .args(["--prefix", root.path().to_str().expect("utf8"), "--binary", bin(), "--no-systemd", "--no-model"])
            .output()
            .expect("run install.sh")
    };
    let first = run();
    let out = String::from_utf8_lossy(&first.stdout).into_owned() + &String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{out}");
    assert!(out.contains("password:"), "the first admin is shown: {out}");
    let bin_path = root.path().join("usr/local/bin/supportd");
    let unit = root.path().join("etc/systemd/system/supportd.service");
    let config = root.path().join("var/lib/supportd/config.toml");
    assert!(bin_path.is_file() && unit.is_file() && config.is_file());
    let unit_text = std::fs::read_to_string(&unit).expect("unit");
    assert!(
        unit_text.contains(&format!("--data-dir {}", root.path().join("var/lib/supportd").display())),
        "{unit_text}"
    );
    std::fs::write(&config, "[server]\nlisten = \"127.0.0.1:9999\"\n").expect("edit config");

    let second = run();
    let out2 = String::from_utf8_lossy(&second.stdout).into_owned() + &String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{out2}");
    assert!(!out2.contains("password:"), "no second admin: {out2}");
    assert!(std::fs::read_to_string(&config).expect("config").contains("9999"), "config kept");
    let doctor = Command::new(&bin_path)
        .args(["--data-dir", root.path().join("var/lib/supportd").to_str().expect("utf8"), "doctor"])
        .output()
        .expect("doctor");
    assert!(doctor.status.success(), "{}", String::from_utf8_lossy(&doctor.stdout));
}

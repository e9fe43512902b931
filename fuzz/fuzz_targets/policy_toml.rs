#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_replay::container::policy_toml(data));

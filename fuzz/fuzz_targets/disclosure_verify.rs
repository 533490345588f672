#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| waybill_fuzz_targets::disclosure_verify(data));

#![no_main]

use libfuzzer_sys::fuzz_target;
use vrouter_fuzz::wire::Parser;

fuzz_target!(|data: &[u8]| Parser::Icmp.run(data));

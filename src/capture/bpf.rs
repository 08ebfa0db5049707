//! A classic BPF interpreter: runs the filter programs libpcap compiles (pcap-filter(7))
//! on a frame's bytes, in the worker.
//!
//! The instruction set and its semantics are those of the BSD packet filter (McCanne and
//! Jacobson, 1993) as Linux documents them in Documentation/networking/filter.rst and
//! libpcap implements them in `bpf_filter.c`: an accumulator A, an index register X, 16
//! scratch words, loads relative to the start of the frame. A program is checked once
//! ([`Program::new`], as `bpf_validate` does): jumps only forward and inside the program,
//! scratch indexes in range, no division by a constant zero, a return at the end, so
//! every run ends. At run time every load is bounds-checked; a load outside the frame or
//! a division by X = 0 rejects the frame, as the kernel does. Nothing here panics.

/// Most instructions a program may have (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;
/// Scratch memory words (`BPF_MEMWORDS`).
const MEMWORDS: usize = 16;

// Instruction classes: the low three bits of the code.
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
// Load sizes.
const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;
// Load modes.
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const MEM: u16 = 0x60;
const LEN: u16 = 0x80;
const MSH: u16 = 0xa0;
// ALU operations and jump conditions.
const ADD: u16 = 0x00;
const SUB: u16 = 0x10;
const MUL: u16 = 0x20;
const DIV: u16 = 0x30;
const OR: u16 = 0x40;
const AND: u16 = 0x50;
const LSH: u16 = 0x60;
const RSH: u16 = 0x70;
const NEG: u16 = 0x80;
const MOD: u16 = 0x90;
const XOR: u16 = 0xa0;
const JA: u16 = 0x00;
const JEQ: u16 = 0x10;
const JGT: u16 = 0x20;
const JGE: u16 = 0x30;
const JSET: u16 = 0x40;
// Operand source: the constant k or X; a return's value: k, X or A.
const SRC_X: u16 = 0x08;
const RVAL_X: u16 = 0x08;
const RVAL_A: u16 = 0x10;
// Register transfers.
const TAX: u16 = 0x00;
const TXA: u16 = 0x80;

/// One instruction, as `struct bpf_insn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Operation code.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

impl Insn {
    /// The instruction `code jt jf k`.
    pub const fn new(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
        Insn { code, jt, jf, k }
    }
}

/// Why a program is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BpfError {
    /// No instruction, or more than [`MAX_INSNS`].
    Length(usize),
    /// An operation code this interpreter does not know.
    Opcode(usize, u16),
    /// A jump past the end of the program.
    Jump(usize),
    /// A scratch memory index of 16 or more.
    Memory(usize, u32),
    /// A division or remainder by the constant 0.
    DivisionByZero(usize),
    /// The last instruction is no return, so a run could fall off the end.
    NoReturn,
}

impl std::fmt::Display for BpfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BpfError::Length(n) => {
                write!(
                    f,
                    "a filter program has 1 to {MAX_INSNS} instructions, not {n}"
                )
            }
            BpfError::Opcode(pc, code) => {
                write!(f, "instruction {pc}: unknown operation code {code:#06x}")
            }
            BpfError::Jump(pc) => write!(f, "instruction {pc}: jump out of the program"),
            BpfError::Memory(pc, k) => {
                write!(f, "instruction {pc}: scratch memory index {k} out of range")
            }
            BpfError::DivisionByZero(pc) => write!(f, "instruction {pc}: division by zero"),
            BpfError::NoReturn => f.write_str("the last instruction is not a return"),
        }
    }
}

impl std::error::Error for BpfError {}

/// A checked program, ready to run on frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    insns: Vec<Insn>,
}

impl Program {
    /// Checks `insns` (see the module documentation) and keeps them.
    pub fn new(insns: Vec<Insn>) -> Result<Program, BpfError> {
        if insns.is_empty() || insns.len() > MAX_INSNS {
            return Err(BpfError::Length(insns.len()));
        }
        for (pc, i) in insns.iter().enumerate() {
            check(pc, i, insns.len())?;
        }
        match insns.last() {
            Some(last) if last.code & 0x07 == RET => Ok(Program { insns }),
            _ => Err(BpfError::NoReturn),
        }
    }

    /// The instructions.
    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// Runs the program on `pkt`: the number of bytes of it to keep, 0 to reject it.
    pub fn run(&self, pkt: &[u8]) -> u32 {
        let mut a: u32 = 0;
        let mut x: u32 = 0;
        let mut mem = [0u32; MEMWORDS];
        let mut pc = 0usize;
        let len = u32::try_from(pkt.len()).unwrap_or(u32::MAX);
        // Checked programs only jump forward, so this loop runs at most len times.
        while let Some(i) = self.insns.get(pc) {
            pc += 1;
            let k = i.k;
            match i.code {
                c if c == LD | W | ABS => match load(pkt, k, 4) {
                    Some(v) => a = v,
                    None => return 0,
                },
                c if c == LD | H | ABS => match load(pkt, k, 2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                c if c == LD | B | ABS => match load(pkt, k, 1) {
                    Some(v) => a = v,
                    None => return 0,
                },
                c if c == LD | W | IND => match load(pkt, x.wrapping_add(k), 4) {
                    Some(v) if x.checked_add(k).is_some() => a = v,
                    _ => return 0,
                },
                c if c == LD | H | IND => match load(pkt, x.wrapping_add(k), 2) {
                    Some(v) if x.checked_add(k).is_some() => a = v,
                    _ => return 0,
                },
                c if c == LD | B | IND => match load(pkt, x.wrapping_add(k), 1) {
                    Some(v) if x.checked_add(k).is_some() => a = v,
                    _ => return 0,
                },
                c if c == LD | W | LEN => a = len,
                c if c == LDX | W | LEN => x = len,
                c if c == LD | IMM => a = k,
                c if c == LDX | IMM => x = k,
                c if c == LD | MEM => a = mem[k as usize % MEMWORDS],
                c if c == LDX | MEM => x = mem[k as usize % MEMWORDS],
                c if c == LDX | B | MSH => match load(pkt, k, 1) {
                    Some(v) => x = (v & 0x0f) << 2,
                    None => return 0,
                },
                ST => mem[k as usize % MEMWORDS] = a,
                STX => mem[k as usize % MEMWORDS] = x,
                c if c & 0x07 == ALU => {
                    let operand = if c & SRC_X != 0 { x } else { k };
                    match alu(c & 0xf0, a, operand) {
                        Some(v) => a = v,
                        None => return 0,
                    }
                }
                c if c == JMP | JA => pc = pc.saturating_add(k as usize),
                c if c & 0x07 == JMP => {
                    let operand = if c & SRC_X != 0 { x } else { k };
                    let taken = match c & 0xf0 {
                        JEQ => a == operand,
                        JGT => a > operand,
                        JGE => a >= operand,
                        _ => a & operand != 0,
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                c if c == RET => return k,
                c if c == RET | RVAL_X => return x,
                c if c == RET | RVAL_A => return a,
                c if c == MISC | TAX => x = a,
                c if c == MISC | TXA => a = x,
                // Refused by the check; a frame is rejected rather than trusted.
                _ => return 0,
            }
        }
        0
    }

    /// True if the program keeps any of `pkt`.
    pub fn matches(&self, pkt: &[u8]) -> bool {
        self.run(pkt) != 0
    }
}

/// A big-endian load of `size` bytes at `off`, if all of them are in the frame.
#[inline]
fn load(pkt: &[u8], off: u32, size: usize) -> Option<u32> {
    let start = usize::try_from(off).ok()?;
    let bytes = pkt.get(start..start.checked_add(size)?)?;
    Some(bytes.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b)))
}

/// `a op b`; `None` for a division or remainder by zero. Shifts by 32 or more give 0.
#[inline]
fn alu(op: u16, a: u32, b: u32) -> Option<u32> {
    Some(match op {
        ADD => a.wrapping_add(b),
        SUB => a.wrapping_sub(b),
        MUL => a.wrapping_mul(b),
        DIV => a.checked_div(b)?,
        MOD => a.checked_rem(b)?,
        OR => a | b,
        AND => a & b,
        XOR => a ^ b,
        LSH => a.checked_shl(b).unwrap_or(0),
        RSH => a.checked_shr(b).unwrap_or(0),
        _ => a.wrapping_neg(),
    })
}

/// Checks instruction `pc` of a program of `n`.
fn check(pc: usize, i: &Insn, n: usize) -> Result<(), BpfError> {
    let unknown = Err(BpfError::Opcode(pc, i.code));
    let mem_index = |k: u32| {
        if (k as usize) < MEMWORDS {
            Ok(())
        } else {
            Err(BpfError::Memory(pc, k))
        }
    };
    let target = |off: usize| {
        if pc + 1 + off < n {
            Ok(())
        } else {
            Err(BpfError::Jump(pc))
        }
    };
    let c = i.code;
    if c > 0xff {
        return unknown;
    }
    match c & 0x07 {
        LD => match c & 0xe0 {
            ABS | IND if matches!(c & 0x18, W | H | B) => Ok(()),
            IMM if c == LD | IMM => Ok(()),
            LEN if c == LD | W | LEN => Ok(()),
            MEM if c == LD | MEM => mem_index(i.k),
            _ => unknown,
        },
        LDX => match c {
            _ if c == LDX | IMM || c == LDX | W | LEN || c == LDX | B | MSH => Ok(()),
            _ if c == LDX | MEM => mem_index(i.k),
            _ => unknown,
        },
        ST | STX if c & 0xf8 == 0 => mem_index(i.k),
        ALU => {
            let op = c & 0xf0;
            if c & !0xf8 != ALU || op > XOR || (op == NEG && c & SRC_X != 0) {
                return unknown;
            }
            if matches!(op, DIV | MOD) && c & SRC_X == 0 && i.k == 0 {
                return Err(BpfError::DivisionByZero(pc));
            }
            Ok(())
        }
        JMP => {
            if c == JMP | JA {
                return target(i.k as usize);
            }
            if c & !0xf8 != JMP || !matches!(c & 0xf0, JEQ | JGT | JGE | JSET) {
                return unknown;
            }
            target(usize::from(i.jt))?;
            target(usize::from(i.jf))
        }
        RET if matches!(c, RET | 0x0e | 0x16) => Ok(()),
        MISC if c == MISC | TAX || c == MISC | TXA => Ok(()),
        _ => unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prog(insns: &[(u16, u8, u8, u32)]) -> Program {
        let insns = insns.iter().map(|&(c, t, f, k)| Insn::new(c, t, f, k));
        Program::new(insns.collect()).expect("a valid program")
    }

    /// An IPv4 ICMP echo request in Ethernet, 10.0.0.9 > 8.8.8.8.
    fn icmp_frame() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8];
        f[12] = 0x08; // IPv4
        f[14] = 0x45;
        f[23] = 1; // ICMP
        f[26..30].copy_from_slice(&[10, 0, 0, 9]);
        f[30..34].copy_from_slice(&[8, 8, 8, 8]);
        f[34] = 8; // echo request
        f
    }

    #[test]
    fn loads_of_every_size_and_mode() {
        let f = icmp_frame();
        // ldh [12]; ret a
        assert_eq!(prog(&[(0x28, 0, 0, 12), (0x16, 0, 0, 0)]).run(&f), 0x0800);
        // ld [26]: the source address
        assert_eq!(
            prog(&[(0x20, 0, 0, 26), (0x16, 0, 0, 0)]).run(&f),
            0x0a00_0009
        );
        // ldb [23]
        assert_eq!(prog(&[(0x30, 0, 0, 23), (0x16, 0, 0, 0)]).run(&f), 1);
        // ldxb 4*([14]&0xf); ldb [x+14]: the ICMP type behind the IP header
        let icmp_type = prog(&[(0xb1, 0, 0, 14), (0x50, 0, 0, 14), (0x16, 0, 0, 0)]);
        assert_eq!(icmp_type.run(&f), 8);
        // ld #len; ldx #len; txa
        assert_eq!(prog(&[(0x80, 0, 0, 0), (0x16, 0, 0, 0)]).run(&f), 42);
        assert_eq!(
            prog(&[(0x81, 0, 0, 0), (0x87, 0, 0, 0), (0x16, 0, 0, 0)]).run(&f),
            42
        );
        // ld #7; st M[3]; ldx M[3]; ret x
        let mem = prog(&[
            (0x00, 0, 0, 7),
            (0x02, 0, 0, 3),
            (0x61, 0, 0, 3),
            (0x0e, 0, 0, 0),
        ]);
        assert_eq!(mem.run(&f), 7);
        // ldx #9; stx M[15]; ld M[15]; ret a
        let memx = prog(&[
            (0x01, 0, 0, 9),
            (0x03, 0, 0, 15),
            (0x60, 0, 0, 15),
            (0x16, 0, 0, 0),
        ]);
        assert_eq!(memx.run(&f), 9);
        // ldh [x+12] with x = 0; ld [x+26] with x = 0
        assert_eq!(prog(&[(0x48, 0, 0, 12), (0x16, 0, 0, 0)]).run(&f), 0x0800);
        assert_eq!(
            prog(&[(0x40, 0, 0, 26), (0x16, 0, 0, 0)]).run(&f),
            0x0a00_0009
        );
    }

    #[test]
    fn loads_outside_the_frame_reject_it() {
        let f = icmp_frame();
        for (code, k) in [
            (0x20, 39),
            (0x28, 41),
            (0x30, 42),
            (0x30, u32::MAX),
            (0xb1, 42),
        ] {
            assert_eq!(prog(&[(code, 0, 0, k), (0x06, 0, 0, 1)]).run(&f), 0);
        }
        // x + k overflowing 32 bits is outside too (not wrapped to the start).
        let wrap = prog(&[(0x01, 0, 0, u32::MAX), (0x50, 0, 0, 2), (0x06, 0, 0, 1)]);
        assert_eq!(wrap.run(&f), 0);
        assert_eq!(prog(&[(0x28, 0, 0, 0), (0x06, 0, 0, 1)]).run(&[]), 0);
    }

    #[test]
    fn arithmetic_as_unsigned_32_bits() {
        let f = icmp_frame();
        let op = |code: u16, a: u32, k: u32| {
            prog(&[(0x00, 0, 0, a), (code, 0, 0, k), (0x16, 0, 0, 0)]).run(&f)
        };
        assert_eq!(op(0x04, u32::MAX, 2), 1); // add wraps
        assert_eq!(op(0x14, 1, 2), u32::MAX); // sub wraps
        assert_eq!(op(0x24, 0x1_0000, 0x1_0000), 0); // mul wraps
        assert_eq!(op(0x34, 7, 2), 3);
        assert_eq!(op(0x94, 7, 4), 3);
        assert_eq!(op(0x44, 0xf0, 0x0f), 0xff);
        assert_eq!(op(0x54, 0xf0, 0x3c), 0x30);
        assert_eq!(op(0xa4, 0xff, 0x0f), 0xf0);
        assert_eq!(op(0x64, 1, 4), 16);
        assert_eq!(op(0x74, 16, 4), 1);
        assert_eq!(op(0x64, 1, 32), 0);
        assert_eq!(op(0x74, u32::MAX, 40), 0);
        assert_eq!(op(0x84, 1, 0), u32::MAX); // neg
                                              // The same with X as the operand; a division by X = 0 rejects.
        let opx = |code: u16, a: u32, x: u32| {
            let p = [
                (0x00, 0, 0, a),
                (0x01, 0, 0, x),
                (code, 0, 0, 0),
                (0x16, 0, 0, 0),
            ];
            prog(&p).run(&f)
        };
        assert_eq!(opx(0x0c, 5, 6), 11);
        assert_eq!(opx(0x3c, 12, 4), 3);
        assert_eq!(opx(0x3c, 12, 0), 0);
        assert_eq!(opx(0x9c, 12, 0), 0);
        assert_eq!(opx(0x6c, 1, 33), 0);
    }

    #[test]
    fn jumps_take_the_right_branch() {
        let f = icmp_frame();
        // ldh [12]; jeq #0x800, accept, reject
        let ip = prog(&[
            (0x28, 0, 0, 12),
            (0x15, 0, 1, 0x800),
            (0x06, 0, 0, 99),
            (0x06, 0, 0, 0),
        ]);
        assert_eq!(ip.run(&f), 99);
        let arp = prog(&[
            (0x28, 0, 0, 12),
            (0x15, 0, 1, 0x806),
            (0x06, 0, 0, 99),
            (0x06, 0, 0, 0),
        ]);
        assert_eq!(arp.run(&f), 0);
        let cond = |code: u16, a: u32, k: u32| {
            let p = [
                (0x00, 0, 0, a),
                (code, 0, 1, k),
                (0x06, 0, 0, 1),
                (0x06, 0, 0, 2),
            ];
            prog(&p).run(&f)
        };
        assert_eq!(cond(0x25, 5, 4), 1); // jgt
        assert_eq!(cond(0x25, 4, 4), 2);
        assert_eq!(cond(0x35, 4, 4), 1); // jge
        assert_eq!(cond(0x35, 3, 4), 2);
        assert_eq!(cond(0x45, 6, 2), 1); // jset
        assert_eq!(cond(0x45, 4, 2), 2);
        // jeq x
        let jx = [
            (0x00, 0, 0, 3),
            (0x01, 0, 0, 3),
            (0x1d, 0, 1, 0),
            (0x06, 0, 0, 1),
            (0x06, 0, 0, 2),
        ];
        assert_eq!(prog(&jx).run(&f), 1);
        // ja over a reject
        let ja = prog(&[(0x05, 0, 0, 1), (0x06, 0, 0, 0), (0x06, 0, 0, 5)]);
        assert_eq!(ja.run(&f), 5);
    }

    #[test]
    fn bad_programs_are_refused() {
        let new = |insns: &[(u16, u8, u8, u32)]| {
            Program::new(
                insns
                    .iter()
                    .map(|&(c, t, f, k)| Insn::new(c, t, f, k))
                    .collect(),
            )
        };
        assert_eq!(new(&[]), Err(BpfError::Length(0)));
        let long = vec![(0x06, 0, 0, 0); MAX_INSNS + 1];
        assert_eq!(new(&long), Err(BpfError::Length(MAX_INSNS + 1)));
        assert_eq!(new(&[(0x28, 0, 0, 12)]), Err(BpfError::NoReturn));
        assert_eq!(
            new(&[(0x15, 1, 0, 1), (0x06, 0, 0, 0)]),
            Err(BpfError::Jump(0))
        );
        assert_eq!(
            new(&[(0x05, 0, 0, 1), (0x06, 0, 0, 0)]),
            Err(BpfError::Jump(0))
        );
        assert_eq!(
            new(&[(0x05, 0, 0, u32::MAX), (0x06, 0, 0, 0)]),
            Err(BpfError::Jump(0))
        );
        assert_eq!(
            new(&[(0x02, 0, 0, 16), (0x06, 0, 0, 0)]),
            Err(BpfError::Memory(0, 16))
        );
        assert_eq!(
            new(&[(0x60, 0, 0, 99), (0x06, 0, 0, 0)]),
            Err(BpfError::Memory(0, 99))
        );
        assert_eq!(
            new(&[(0x34, 0, 0, 0), (0x06, 0, 0, 0)]),
            Err(BpfError::DivisionByZero(0))
        );
        assert_eq!(
            new(&[(0x94, 0, 0, 0), (0x06, 0, 0, 0)]),
            Err(BpfError::DivisionByZero(0))
        );
        for bad in [0x18u16, 0x38, 0xc4, 0x55 | 0x08 | 0x20, 0x1e, 0xff, 0x8c] {
            assert_eq!(
                new(&[(bad, 0, 0, 0), (0x06, 0, 0, 0)]),
                Err(BpfError::Opcode(0, bad))
            );
        }
    }

    /// A small xorshift generator: the same sequence every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn random_programs_on_random_frames_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // Every valid code (as the check sees it), and now and then any byte.
        let codes: Vec<u16> = (0..=0xffu16)
            .filter(|&c| check(0, &Insn::new(c, 0, 0, 1), 2).is_ok())
            .collect();
        assert!(codes.len() >= 45, "only {} valid codes", codes.len());
        let mut accepted = 0;
        for _ in 0..20_000 {
            let n = (rng.next() % 12 + 1) as usize;
            let mut insns: Vec<Insn> = (0..n)
                .map(|_| {
                    let r = rng.next();
                    let k = match r % 4 {
                        0 => (r >> 8) as u32,
                        1 => (r >> 8) as u32 % 64,
                        2 => u32::MAX - (r >> 8) as u32 % 4,
                        _ => (r >> 8) as u32 % 16,
                    };
                    let code = match r % 10 {
                        0 => (r >> 40) as u16 & 0xff,
                        _ => codes[(r >> 40) as usize % codes.len()],
                    };
                    Insn::new(code, (r >> 48) as u8 % 4, (r >> 56) as u8 % 4, k)
                })
                .collect();
            insns.push(Insn::new(0x16, 0, 0, 0));
            let Ok(p) = Program::new(insns) else {
                continue;
            };
            accepted += 1;
            for _ in 0..4 {
                let len = (rng.next() % 80) as usize;
                let frame: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                p.run(&frame);
            }
        }
        assert!(
            accepted > 1000,
            "only {accepted} random programs were valid"
        );
    }
}

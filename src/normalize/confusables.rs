//! Confusable folding: letters of other scripts that look like Latin letters.
//!
//! Input: one text after NFKC, invisible removal and spaced-letter joining, in
//! its original case. Output: the same text in lower case, with look-alike
//! letters replaced by the Latin letter they imitate where the context says
//! they are an imitation, and the number of letters replaced.
//!
//! # The table
//!
//! [`KEYS`]/[`TARGETS`] map a letter to the lower-case ASCII letter it looks
//! like. It was generated from Unicode `confusables.txt` (the UTS #39 skeleton,
//! through the `unicode-security` crate, not a dependency of this one): every
//! NFKC-stable letter of the scripts listed in [`script_of`] and of the Latin
//! extension blocks whose skeleton is a single ASCII letter (an uppercase
//! `I`-like letter, skeleton `l`, maps to `i`), plus by hand: Latin small
//! capitals (`ɪɢɴᴏʀᴇ`), Greek lower-case letters that look like Latin ones
//! (`η` -> `n`, `τ` -> `t`, accented `ό` -> `o`), Cyrillic `ё`, `ї`, `ѐ`; and
//! the other case of each entry of Greek, Cyrillic, Cherokee and Coptic.
//! Left out on purpose: letters that are ordinary letters of living Latin
//! orthographies (`ı` is folded silently by the view, `þ`, `ƒ`, `ɣ`, `ʋ`) and
//! `μ`, which is the micro sign after NFKC (`5 μm`).
//!
//! The table is closed under lower-casing in one direction: when `lower(c)` is
//! in the table, `c` is too. The view is built from original case and
//! normalized again from lower case (idempotence), so a word must never turn
//! from "certainly not Latin" to "could be Latin" by being lower-cased.
//!
//! # When a letter is folded: the rule
//!
//! Folding every look-alike would turn ordinary Russian or Greek into Latin
//! gibberish (`сор`, `рос`, `как`, `και` are all made of look-alikes). So the
//! decision is made per word (a run of letters, digits and marks):
//!
//! * a **Latin word** (at least one Latin letter, and every other letter is a
//!   look-alike, `іgnоrе`, `Тest`) is folded: a real word of another script
//!   never holds a Latin letter, and a word made of Latin and look-alikes is
//!   the homoglyph attack itself;
//! * a word with a letter that is neither Latin nor a look-alike (`привет`,
//!   `λόγος`, `中文`) is **foreign** and left alone (only the Latin-script
//!   look-alikes, small capitals and IPA letters, are folded in it);
//! * a word made only of look-alikes (`РАУРАL`, `ѕсоре`, `και`) is
//!   **ambiguous**. It is folded when its look-alikes come from two scripts or
//!   more (no language mixes Greek and Cyrillic in a word), or when it has two
//!   letters or more and the nearest decisive words on each side (Latin or
//!   foreign words, skipping other ambiguous words and numbers) are all Latin,
//!   and there is at least one: `log in to your РАУРАL account` folds, `в РАУРАL
//!   войдите` and a lone `сор` do not. One-letter words are never folded: `а`,
//!   `с`, `в` are Russian words and `α` a Greek variable in English text.
//!
//! Every folded letter of another script, and every Latin-script look-alike,
//! counts one in `findings.confusables`.

use super::{swar, Findings};

/// Code points of the look-alike letters, sorted.
const KEYS: [u32; N] = [
    0x0184, 0x018D, 0x0196, 0x019C, 0x01A6, 0x01BC, 0x01BD, 0x01BF, 0x01C0, 0x01F7, 0x0237, 0x024C,
    0x0251, 0x0261, 0x0262, 0x0269, 0x026A, 0x026F, 0x0274, 0x0280, 0x0284, 0x028F, 0x0299, 0x029C,
    0x029F, 0x037F, 0x0386, 0x0388, 0x0389, 0x038A, 0x038C, 0x038E, 0x038F, 0x0390, 0x0391, 0x0392,
    0x0393, 0x0395, 0x0396, 0x0397, 0x0399, 0x039A, 0x039C, 0x039D, 0x039F, 0x03A1, 0x03A3, 0x03A4,
    0x03A5, 0x03A7, 0x03A9, 0x03AA, 0x03AB, 0x03AC, 0x03AD, 0x03AE, 0x03AF, 0x03B0, 0x03B1, 0x03B2,
    0x03B3, 0x03B5, 0x03B6, 0x03B7, 0x03B9, 0x03BA, 0x03BD, 0x03BF, 0x03C1, 0x03C3, 0x03C4, 0x03C5,
    0x03C7, 0x03C9, 0x03CA, 0x03CB, 0x03CC, 0x03CD, 0x03CE, 0x03DC, 0x03DD, 0x03EC, 0x03ED, 0x03F2,
    0x03F3, 0x03F7, 0x03F8, 0x03F9, 0x03FA, 0x03FB, 0x0400, 0x0401, 0x0405, 0x0406, 0x0407, 0x0408,
    0x0410, 0x0412, 0x0413, 0x0415, 0x041A, 0x041C, 0x041D, 0x041E, 0x0420, 0x0421, 0x0422, 0x0423,
    0x0425, 0x0428, 0x042C, 0x0430, 0x0432, 0x0433, 0x0435, 0x043A, 0x043C, 0x043D, 0x043E, 0x0440,
    0x0441, 0x0442, 0x0443, 0x0445, 0x0448, 0x044C, 0x0450, 0x0451, 0x0455, 0x0456, 0x0457, 0x0458,
    0x0460, 0x0461, 0x0474, 0x0475, 0x04AE, 0x04AF, 0x04BA, 0x04BB, 0x04BC, 0x04BD, 0x04C0, 0x04CF,
    0x0500, 0x0501, 0x050C, 0x050D, 0x051A, 0x051B, 0x051C, 0x051D, 0x0531, 0x0533, 0x0536, 0x0540,
    0x0545, 0x0548, 0x054C, 0x054D, 0x054F, 0x0551, 0x0552, 0x0554, 0x0555, 0x0561, 0x0563, 0x0566,
    0x0570, 0x0575, 0x0578, 0x057C, 0x057D, 0x0581, 0x0582, 0x0584, 0x0585, 0x10B9, 0x10BD, 0x10CD,
    0x10E7, 0x10FD, 0x10FF, 0x13A0, 0x13A1, 0x13A2, 0x13A5, 0x13A9, 0x13AA, 0x13AB, 0x13AC, 0x13B1,
    0x13B3, 0x13B7, 0x13BB, 0x13BD, 0x13C0, 0x13C2, 0x13C3, 0x13CF, 0x13D2, 0x13D4, 0x13D5, 0x13D9,
    0x13DA, 0x13DE, 0x13DF, 0x13E2, 0x13E6, 0x13E7, 0x13F3, 0x13F4, 0x13FB, 0x13FC, 0x142F, 0x144C,
    0x146D, 0x146F, 0x1472, 0x148D, 0x14AA, 0x1541, 0x157C, 0x157D, 0x1587, 0x15AF, 0x15B4, 0x15C5,
    0x15DE, 0x15EA, 0x15F0, 0x15F7, 0x16B7, 0x16C1, 0x16D0, 0x16D5, 0x16D6, 0x1C82, 0x1C83, 0x1CA7,
    0x1CBD, 0x1CBF, 0x1D00, 0x1D04, 0x1D05, 0x1D07, 0x1D0A, 0x1D0B, 0x1D0D, 0x1D0F, 0x1D11, 0x1D18,
    0x1D1B, 0x1D1C, 0x1D20, 0x1D21, 0x1D22, 0x1D26, 0x1D83, 0x1D8C, 0x1E9D, 0x1EFE, 0x1EFF, 0x2C6D,
    0x2C82, 0x2C83, 0x2C84, 0x2C85, 0x2C8C, 0x2C8D, 0x2C8E, 0x2C8F, 0x2C92, 0x2C93, 0x2C94, 0x2C95,
    0x2C98, 0x2C99, 0x2C9A, 0x2C9B, 0x2C9E, 0x2C9F, 0x2CA2, 0x2CA3, 0x2CA4, 0x2CA5, 0x2CA6, 0x2CA7,
    0x2CA8, 0x2CA9, 0x2CAC, 0x2CAD, 0x2CBC, 0x2CBD, 0x2CCE, 0x2CCF, 0x2CD0, 0x2CD1, 0x2D2D, 0x2D38,
    0x2D39, 0x2D4A, 0x2D4F, 0x2D54, 0x2D55, 0x2D5D, 0xA4D0, 0xA4D1, 0xA4D2, 0xA4D3, 0xA4D4, 0xA4D6,
    0xA4D7, 0xA4D9, 0xA4DA, 0xA4DC, 0xA4DD, 0xA4DF, 0xA4E0, 0xA4E1, 0xA4E2, 0xA4E3, 0xA4E6, 0xA4E7,
    0xA4EA, 0xA4EB, 0xA4EC, 0xA4EE, 0xA4F0, 0xA4F2, 0xA4F3, 0xA4F4, 0xA50B, 0xA557, 0xA56F, 0xA576,
    0xA5CB, 0xA646, 0xA647, 0xA6C9, 0xA6DF, 0xA730, 0xA731, 0xA780, 0xA781, 0xA798, 0xA799, 0xA79E,
    0xA79F, 0xA7AC, 0xA7AE, 0xA7B2, 0xA7B3, 0xA7B4, 0xA7FA, 0xA7FE, 0xAB32, 0xAB35, 0xAB3D, 0xAB47,
    0xAB48, 0xAB4E, 0xAB52, 0xAB5A, 0xAB64, 0xAB70, 0xAB71, 0xAB72, 0xAB75, 0xAB79, 0xAB7A, 0xAB7B,
    0xAB7C, 0xAB81, 0xAB83, 0xAB87, 0xAB8B, 0xAB8D, 0xAB90, 0xAB92, 0xAB93, 0xAB9F, 0xABA2, 0xABA4,
    0xABA5, 0xABA9, 0xABAA, 0xABAE, 0xABAF, 0xABB2, 0xABB6, 0xABB7, 0x10282, 0x10286, 0x10287,
    0x1028A, 0x10290, 0x10292, 0x10295, 0x10296, 0x10297, 0x102A0, 0x102A1, 0x102A2, 0x102A5,
    0x102AB, 0x102B0, 0x102B1, 0x102B2, 0x102B4, 0x102CF, 0x10301, 0x10302, 0x10309, 0x1030F,
    0x10311, 0x10315, 0x10317, 0x1031C, 0x10404, 0x10415, 0x1041B, 0x10420, 0x1042C, 0x1043D,
    0x10448, 0x104B4, 0x104C2, 0x104CE, 0x104EA, 0x104F6, 0x10507, 0x1050E, 0x10513, 0x10516,
    0x10518, 0x1051B, 0x1051D, 0x10525, 0x10526, 0x10527, 0x118A0, 0x118A1, 0x118A2, 0x118A3,
    0x118A4, 0x118A6, 0x118A8, 0x118A9, 0x118AE, 0x118B2, 0x118B5, 0x118B7, 0x118B8, 0x118BC,
    0x118C0, 0x118C1, 0x118C2, 0x118C3, 0x118C4, 0x118C8, 0x118D7, 0x118D8, 0x118DC,
];

/// Number of entries of the table.
const N: usize = 464;

/// The lower-case ASCII letter each entry of [`KEYS`] looks like, one byte
/// each (the array type checks that both have the same length).
const TARGETS: &[u8; N] = b"bgiwrssplpjraggiiwnrfybhljaehioywiabyezhikmnopotyxwiyaeniuabyezn\
    ikvopotuxwiuouwffoocjppcmmeesiijabrekmhopctyxwbabrekmhopctyxwbee\
    siijwwvvyyhheeilddggqqwwwqqhjnnusgifowqqhjnnugifohszysodrtiyajer\
    wmhyghzbrwsvslcpkdgbgbvupdbjlxhxrbfaddmbxiikmocysoacdejkmooptuvw\
    zrgyfyyabbrrzzhhiikkmmnnooppccttyyxxwwppllzveiioqxbpddtgkjczfmnl\
    srvhwxyaeioutbiseiizvfsllffuugijxbwleforruuyadrtiyajerwmhyghzbrw\
    svslcpkdbefixopstabcfomtyxhbciomtxboclsocsrououzinokcvflxvsflyeo\
    zelooutvsfiyoouy";

/// Greek, Cyrillic and Armenian, where most look-alikes are, as a direct table.
const DENSE_START: u32 = 0x0370;
const DENSE_END: u32 = 0x0590;

/// [`TARGETS`] indexed by code point minus [`DENSE_START`]; 0 for none.
const DENSE: [u8; (DENSE_END - DENSE_START) as usize] = {
    let mut t = [0u8; (DENSE_END - DENSE_START) as usize];
    let mut i = 0;
    while i < N {
        if KEYS[i] >= DENSE_START && KEYS[i] < DENSE_END {
            t[(KEYS[i] - DENSE_START) as usize] = TARGETS[i];
        }
        i += 1;
    }
    t
};

/// The Latin letter `c` looks like, if it is in the table.
pub(crate) fn lookup(c: char) -> Option<u8> {
    let cp = c as u32;
    match cp {
        0..=0x17F => None,
        DENSE_START..=0x058F => DENSE
            .get((cp - DENSE_START) as usize)
            .copied()
            .filter(|&t| t != 0),
        0x0180..=0x02AF
        | 0x10A0..=0x10FF
        | 0x13A0..=0x16FF
        | 0x1C80..=0x1CBF
        | 0x1D00..=0x1EFF
        | 0x2C60..=0x2D7F
        | 0xA4D0..=0xA7FF
        | 0xAB30..=0xABBF
        | 0x10280..=0x1052F
        | 0x118A0..=0x118FF => KEYS
            .binary_search(&cp)
            .ok()
            .and_then(|i| TARGETS.get(i).copied()),
        _ => None,
    }
}

/// Whether `c` is alphabetic, answered without a table for the blocks of the
/// most common scripts.
pub(crate) fn is_alphabetic(c: char) -> bool {
    match c as u32 {
        0x0391..=0x03A1
        | 0x03A3..=0x03A9
        | 0x03B1..=0x03C9
        | 0x0410..=0x044F
        | 0x05D0..=0x05EA
        | 0x0621..=0x063A
        | 0x0641..=0x064A
        | 0x3041..=0x3096
        | 0x30A1..=0x30FA
        | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7A3 => true,
        0x3000..=0x3004 | 0x3008..=0x3020 | 0xFF01..=0xFF0F | 0x2000..=0x206F => false,
        _ => c.is_alphabetic(),
    }
}

/// Which script a look-alike belongs to, for the "two scripts in one word"
/// test; 0 for the Latin extension blocks, whose look-alikes are always folded.
fn script_of(cp: u32) -> u8 {
    match cp {
        0x0370..=0x03FF | 0x1F00..=0x1FFF => 1, // Greek
        0x0400..=0x052F | 0x1C80..=0x1C8F | 0xA640..=0xA69F => 2, // Cyrillic
        0x0531..=0x058F => 3,                   // Armenian
        0x10A0..=0x10FF | 0x1C90..=0x1CBF | 0x2D00..=0x2D2F => 4, // Georgian
        0x13A0..=0x13FF | 0xAB70..=0xABBF => 5, // Cherokee
        0x2C80..=0x2CFF => 6,                   // Coptic
        0xA4D0..=0xA4FF => 7,                   // Lisu
        0x1400..=0x167F => 8,                   // Canadian syllabics
        0x16A0..=0x16FF => 9,                   // Runic
        0x2D30..=0x2D7F => 10,                  // Tifinagh
        0xA500..=0xA63F => 11,                  // Vai
        0xA6A0..=0xA6FF => 12,                  // Bamum
        0x10280..=0x1052F => 13, // Lycian, Carian, Old Italic, Deseret, Osage, Elbasan
        0x118A0..=0x118FF => 14, // Warang Citi
        _ => 0,
    }
}

/// Script bits of the alphabets whose look-alike letters are also everyday
/// words (Greek, Cyrillic, Armenian, Georgian): only those need a context.
const EVERYDAY: u32 = 1 << 1 | 1 << 2 | 1 << 3 | 1 << 4;

/// Whether look-alikes of these scripts (bits of [`script_bit`]) can only be
/// a disguise: two scripts mixed, or a script like Lisu, Cherokee capitals or
/// Coptic, whose words written only with Latin look-alikes are no text of
/// theirs (`ꓲꓖꓠꓳꓣꓰ` is `ignore`).
pub(crate) fn disguising_scripts(scripts: u32) -> bool {
    scripts.count_ones() >= 2 || scripts & !EVERYDAY != 0
}

/// The script of a look-alike as a bit (`1 << script`), 0 for Latin-script
/// look-alikes.
pub(crate) fn script_bit(c: char) -> u32 {
    match script_of(c as u32) {
        0 => 0,
        id => 1 << id,
    }
}

/// Letters of the Latin script (ASCII and the Latin extension blocks).
pub(crate) fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || matches!(c as u32,
            0xC0..=0xD6 | 0xD8..=0xF6 | 0xF8..=0x2AF | 0x1D00..=0x1DBF | 0x1E00..=0x1EFF
            | 0x2C60..=0x2C7F | 0xA720..=0xA7FF | 0xAB30..=0xAB6F | 0xFB00..=0xFB06)
}

/// Pushes the lower case of `c`. `İ` lower-cases to `i` plus a combining dot
/// that the view would strip anyway; one char keeps the view idempotent.
pub(crate) fn push_lower(out: &mut String, c: char) {
    let cp = c as u32;
    match cp {
        0..=0x7F => out.push(c.to_ascii_lowercase()),
        0x130 => out.push('i'),
        // Cyrillic and Greek capitals, and scripts without case: no table.
        0x0410..=0x042F | 0x0391..=0x03A1 | 0x03A3..=0x03AB => {
            out.push(char::from_u32(cp + 0x20).unwrap_or(c));
        }
        0x0400..=0x040F => out.push(char::from_u32(cp + 0x50).unwrap_or(c)),
        0x0430..=0x045F | 0x03AC..=0x03CE | 0x0590..=0x0FFF | 0x3000..=0x9FFF | 0xAC00..=0xD7A3 => {
            out.push(c)
        }
        _ => out.extend(c.to_lowercase()),
    }
}

/// Whether lower-casing leaves `c` as it is, without a table for the
/// blocks of the most common scripts.
fn is_own_lower_case(c: char) -> bool {
    match c as u32 {
        0..=0x7F => !c.is_ascii_uppercase(),
        0x0430..=0x045F | 0x0590..=0x109F | 0x3000..=0x9FFF | 0xAC00..=0xD7A3 => true,
        0x0400..=0x042F => false,
        _ => {
            let mut lower = c.to_lowercase();
            lower.next() == Some(c) && lower.next().is_none()
        }
    }
}

/// Lower-cases a whole text, copying the runs that do not change.
pub(crate) fn push_lower_str(out: &mut String, s: &str) {
    if s.is_ascii() {
        let start = out.len();
        out.push_str(s);
        if let Some(tail) = out.get_mut(start..) {
            tail.make_ascii_lowercase();
        }
        return;
    }
    // `s[..copied]` is written; characters that stay are copied in runs.
    let bytes = s.as_bytes();
    let (mut copied, mut i) = (0, 0);
    while i < bytes.len() {
        // Eight ASCII bytes without a capital are skipped at once: the Latin
        // text between words of other scripts costs no decoding.
        if let Some(x) = swar::load(bytes, i) {
            if swar::high(x) | swar::between(x, b'A', b'Z') == 0 {
                i += 8;
                continue;
            }
        }
        let Some(c) = s.get(i..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        if !is_own_lower_case(c) {
            out.push_str(s.get(copied..i).unwrap_or(""));
            push_lower(out, c);
            copied = i + c.len_utf8();
        }
        i += c.len_utf8();
    }
    out.push_str(s.get(copied..).unwrap_or(""));
}

/// What a word's letters say about its script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Latin letters, and look-alikes of other scripts if any.
    Latin,
    /// A letter that is neither Latin nor a look-alike.
    Foreign,
    /// Only look-alikes of other scripts.
    Ambiguous,
    /// No letter (numbers, marks).
    Neutral,
}

/// Which decisive word is nearest on one side of an ambiguous word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    None,
    Latin,
    Foreign,
}

/// What one character adds to its word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Letter {
    /// Not a word character: ends the word.
    Boundary,
    /// A Latin letter, or a Latin-script look-alike (`latin_look`).
    Latin { latin_look: bool },
    /// A look-alike of another script, with its script bit.
    LookAlike(u32),
    /// Another letter.
    Foreign,
    /// A digit or a mark: part of the word, no say on its script.
    Other,
}

fn letter(c: char) -> Letter {
    let cp = c as u32;
    match cp {
        0..=0x7F if c.is_ascii_alphabetic() => Letter::Latin { latin_look: false },
        0..=0x7F if c.is_ascii_digit() => Letter::Other,
        0..=0x7F => Letter::Boundary,
        0x0400..=0x0481 | 0x048A..=0x04FF => match lookup(c) {
            Some(_) => Letter::LookAlike(1 << 2),
            None => Letter::Foreign,
        },
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7A3 => Letter::Foreign,
        _ => match lookup(c) {
            Some(_) if script_of(cp) == 0 => Letter::Latin { latin_look: true },
            Some(_) => Letter::LookAlike(script_bit(c)),
            None if is_latin_letter(c) => Letter::Latin { latin_look: false },
            None if is_alphabetic(c) => Letter::Foreign,
            None if c.is_numeric() || unicode_normalization::char::is_combining_mark(c) => {
                Letter::Other
            }
            None => Letter::Boundary,
        },
    }
}

struct Word {
    start: usize,
    end: usize,
    latin: u32,
    latin_looks: u32,
    look: u32,
    foreign: u32,
    scripts: u32,
    /// Nearest decisive word on the left.
    left: Side,
    /// Fold the look-alikes of other scripts (Latin-script ones are always folded).
    fold: bool,
}

impl Word {
    fn new(start: usize) -> Word {
        Word {
            start,
            end: start,
            latin: 0,
            latin_looks: 0,
            look: 0,
            foreign: 0,
            scripts: 0,
            left: Side::None,
            fold: false,
        }
    }

    fn add(&mut self, letter: Letter) {
        match letter {
            Letter::Latin { latin_look } => {
                self.latin += 1;
                self.latin_looks += u32::from(latin_look);
            }
            Letter::LookAlike(script) => {
                self.look += 1;
                self.scripts |= script;
            }
            Letter::Foreign => self.foreign += 1,
            Letter::Other | Letter::Boundary => {}
        }
    }

    fn kind(&self) -> Kind {
        if self.foreign > 0 {
            Kind::Foreign
        } else if self.latin > 0 {
            Kind::Latin
        } else if self.look > 0 {
            Kind::Ambiguous
        } else {
            Kind::Neutral
        }
    }

    /// Whether the word's look-alikes give it away: two scripts or more in
    /// one word, or a script whose look-alikes no ordinary text is made of
    /// (see [`disguising_scripts`]).
    fn mixed_scripts(&self) -> bool {
        disguising_scripts(self.scripts)
    }

    fn decisive(&self) -> Side {
        match self.kind() {
            Kind::Latin => Side::Latin,
            Kind::Foreign => Side::Foreign,
            Kind::Ambiguous if self.mixed_scripts() => Side::Latin,
            _ => Side::None,
        }
    }
}

/// The words of `s`, each with whether its look-alikes fold (from its own
/// letters and the nearest decisive words on either side).
fn decided_words(s: &str) -> Vec<Word> {
    let mut words: Vec<Word> = Vec::new();
    let mut word: Option<Word> = None;
    for (i, c) in s.char_indices() {
        match (letter(c), word.as_mut()) {
            (Letter::Boundary, Some(_)) => {
                if let Some(mut w) = word.take() {
                    w.end = i;
                    words.push(w);
                }
            }
            (Letter::Boundary, None) => {}
            (l, Some(w)) => w.add(l),
            (l, None) => {
                let mut w = Word::new(i);
                w.add(l);
                word = Some(w);
            }
        }
    }
    if let Some(mut w) = word {
        w.end = s.len();
        words.push(w);
    }

    let mut nearest = Side::None;
    for word in words.iter_mut() {
        word.left = nearest;
        match word.decisive() {
            Side::None => {}
            side => nearest = side,
        }
    }
    nearest = Side::None;
    for word in words.iter_mut().rev() {
        word.fold = match word.kind() {
            Kind::Latin => true,
            Kind::Ambiguous => {
                let sides = [word.left, nearest];
                let latin_context = sides.contains(&Side::Latin) && !sides.contains(&Side::Foreign);
                word.mixed_scripts() || (word.look >= 2 && latin_context)
            }
            Kind::Foreign | Kind::Neutral => false,
        };
        match word.decisive() {
            Side::None => {}
            side => nearest = side,
        }
    }
    words
}

/// Writes `s` lower-cased into `out`, with look-alikes folded by the rule of
/// the module documentation; counts folded letters in `findings.confusables`.
pub(crate) fn fold_lower(s: &str, out: &mut String, findings: &mut Findings) {
    let words = decided_words(s);
    // Only words holding a look-alike change beyond lower case: the text
    // between them, other words included, is lower-cased in one piece.
    let mut pos = 0;
    for word in words.iter().filter(|w| w.look > 0 || w.latin_looks > 0) {
        push_lower_str(out, s.get(pos..word.start).unwrap_or(""));
        let text = s.get(word.start..word.end).unwrap_or("");
        if word.fold || word.latin_looks > 0 {
            write_word(word, text, out, findings);
        } else {
            push_lower_str(out, text);
        }
        pos = word.end;
    }
    push_lower_str(out, s.get(pos..).unwrap_or(""));
}

/// Writes one word's `text` letter by letter: a look-alike is folded where
/// the word folds or where it is a Latin letter itself, the rest lower-cased.
fn write_word(word: &Word, text: &str, out: &mut String, findings: &mut Findings) {
    for c in text.chars() {
        match lookup(c) {
            Some(t) if word.fold || script_of(c as u32) == 0 => {
                out.push(char::from(t));
                findings.confusables += 1;
            }
            _ => push_lower(out, c),
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use unicode_normalization::UnicodeNormalization;

    use super::*;

    fn fold(s: &str) -> (String, u32) {
        let mut out = String::new();
        let mut findings = Findings::default();
        fold_lower(s, &mut out, &mut findings);
        (out, findings.confusables)
    }

    #[test]
    fn table_is_sorted_and_targets_are_lower_case_ascii_letters() {
        assert!(KEYS.windows(2).all(|w| w[0] < w[1]));
        assert!(TARGETS.iter().all(u8::is_ascii_lowercase));
        for (&cp, &target) in KEYS.iter().zip(TARGETS.iter()) {
            let c = char::from_u32(cp).unwrap_or('\0');
            assert_eq!(
                lookup(c),
                Some(target),
                "U+{cp:04X} is out of the ranges lookup searches"
            );
        }
    }

    #[test]
    fn table_is_closed_under_lower_casing() {
        // When lower(c) is a look-alike, c must be one too (see the module docs).
        for cp in 0x80..0x20000u32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            if c.to_string().nfkc().ne(std::iter::once(c)) {
                continue; // never seen by folding, which runs after NFKC
            }
            let mut lower = c.to_lowercase();
            let (Some(l), None) = (lower.next(), lower.next()) else {
                continue;
            };
            if l != c && lookup(l).is_some() {
                assert!(
                    lookup(c).is_some(),
                    "U+{cp:04X} is missing, its lower case U+{:04X} is in",
                    l as u32
                );
            }
        }
    }

    #[test]
    fn fast_paths_agree_with_the_standard_library() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            assert_eq!(is_alphabetic(c), c.is_alphabetic(), "{c:?}");
            let mut lower = String::new();
            push_lower(&mut lower, c);
            if c != '\u{130}' {
                assert_eq!(lower, c.to_lowercase().collect::<String>(), "{c:?}");
                assert_eq!(is_own_lower_case(c), lower == c.to_string(), "{c:?}");
            }
        }
    }

    #[test]
    fn homoglyphs_inside_latin_words_fold() {
        let cases = [
            ("\u{456}gn\u{43e}r\u{435}", "ignore", 3),
            ("Ign\u{3bf}re", "ignore", 1),
            ("\u{422}est", "test", 1),
            ("\u{570}ello", "hello", 1),
            ("\u{26a}\u{262}\u{274}\u{1d0f}\u{280}\u{1d07}", "ignore", 6),
        ];
        for (input, want, count) in cases {
            assert_eq!(fold(input), (want.to_string(), count), "{input}");
        }
    }

    #[test]
    fn all_look_alike_words_fold_between_latin_words_only() {
        let cases = [
            (
                "log in to your \u{420}\u{410}\u{423}\u{420}\u{410}L account",
                "log in to your paypal account",
                5,
            ),
            (
                "log in to your \u{420}\u{410}\u{423}\u{420}\u{410}\u{4c0} account",
                "log in to your paypai account",
                6,
            ),
            (
                "\u{455}\u{441}\u{43e}\u{440}\u{435} of work",
                "scope of work",
                5,
            ),
            ("сор", "сор", 0),
            ("the \u{3b1} particle", "the α particle", 0),
            // Greek and Cyrillic in one word: no language does that.
            ("\u{3bf}\u{440}\u{3b1}", "opa", 3),
        ];
        for (input, want, count) in cases {
            let (got, n) = fold(input);
            assert_eq!((got.as_str(), n), (want, count), "{input}");
        }
    }

    #[test]
    fn ordinary_russian_and_greek_stay_as_they_are() {
        let cases = [
            "Сорок сорок в роще, а на горе ещё сор и рос",
            "Как тот кот, он ест",
            "Και το σπίτι του είναι κοντά στην αγορά",
            "Ο κόσμος και η ζωή",
            "в \u{420}\u{410}\u{423}\u{420}\u{410}\u{4c0} войдите",
        ];
        for input in cases {
            let (got, n) = fold(input);
            assert_eq!(got, input.to_lowercase());
            assert_eq!(n, 0, "{input}");
        }
    }

    /// [`fold_lower`] as it was, writing every word on its own.
    fn fold_lower_word_by_word(s: &str, out: &mut String, findings: &mut Findings) {
        let words = decided_words(s);
        let mut pos = 0;
        for word in &words {
            s.get(pos..word.start)
                .unwrap_or("")
                .chars()
                .for_each(|c| push_lower(out, c));
            write_word(
                word,
                s.get(word.start..word.end).unwrap_or(""),
                out,
                findings,
            );
            pos = word.end;
        }
        s.get(pos..)
            .unwrap_or("")
            .chars()
            .for_each(|c| push_lower(out, c));
    }

    #[test]
    fn whole_pieces_lower_case_as_characters_do() {
        for text in crate::normalize::varied_texts() {
            let mut fast = String::new();
            push_lower_str(&mut fast, &text);
            let mut plain = String::new();
            text.chars().for_each(|c| push_lower(&mut plain, c));
            assert_eq!(fast, plain, "{text:?}");
            let (mut a, mut b) = (Findings::default(), Findings::default());
            let (mut x, mut y) = (String::new(), String::new());
            fold_lower(&text, &mut x, &mut a);
            fold_lower_word_by_word(&text, &mut y, &mut b);
            assert_eq!((x, a), (y, b), "{text:?}");
        }
    }
}

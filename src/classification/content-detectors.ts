/**
 * DLP content detectors: pure functions over text that say whether a kind of sensitive identifier
 * appears, checked by its own checksum or validity rules so that ordinary numbers do not trip them.
 * They answer with a count only; the matched data never leaves this file (a decision records the
 * rule id, not the number).
 *
 * - Payment card numbers: 13–19 digits, optionally grouped by spaces or hyphens, passing the Luhn
 *   check (ISO/IEC 7812-1 Annex B).
 * - IBANs: country code, two check digits and a BBAN, passing ISO 13616 mod-97 (remainder 1).
 * - US Social Security numbers in the AAA-GG-SSSS form, without the numbers the SSA never issues
 *   (area 000, 666 or 900–999; group 00; serial 0000).
 * - UK NHS numbers (10 digits, modulus 11 check digit), the built-in national health identifier;
 *   other schemes are custom patterns configured per tenant.
 */

/** ISO/IEC 7812-1 Annex B: double every second digit from the right; the sum is a multiple of 10. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

// Digits in groups separated by at most one space or hyphen; not part of a longer digit run.
const CARD_CANDIDATE = /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])/g;

export function countCardNumbers(text: string): number {
  let n = 0;
  for (const m of text.matchAll(CARD_CANDIDATE)) {
    const digits = m[0].replace(/[ -]/g, '');
    // A run of one repeated digit passes Luhn for some lengths (0000…): never a card.
    if (digits.length >= 13 && digits.length <= 19 && !/^(\d)\1+$/.test(digits) && luhnValid(digits)) n++;
  }
  return n;
}

/** ISO 13616: move the first four characters to the end, letters to 10–35, the number mod 97 is 1. */
export function ibanValid(candidate: string): boolean {
  const s = candidate.replace(/ /g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(s)) return false;
  const moved = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const ch of moved) {
    const v = ch >= 'A' ? ch.charCodeAt(0) - 55 : ch.charCodeAt(0) - 48;
    rem = v > 9 ? (rem * 100 + v) % 97 : (rem * 10 + v) % 97;
  }
  return rem === 1;
}

const IBAN_CANDIDATE = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/g;

export function countIbans(text: string): number {
  let n = 0;
  for (const m of text.matchAll(IBAN_CANDIDATE)) if (ibanValid(m[0])) n++;
  return n;
}

/** SSA: area 000, 666 and 900–999, group 00 and serial 0000 are never issued. */
export function ssnValid(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  return a !== 0 && a !== 666 && a < 900 && group !== '00' && serial !== '0000';
}

const SSN_CANDIDATE = /(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])/g;

export function countUsSsns(text: string): number {
  let n = 0;
  for (const m of text.matchAll(SSN_CANDIDATE)) if (ssnValid(m[1]!, m[2]!, m[3]!)) n++;
  return n;
}

/** NHS number: weights 10…2 over the first nine digits; 11 − (sum mod 11) is the tenth (11 → 0; 10 invalid). */
export function nhsNumberValid(digits: string): boolean {
  if (!/^\d{10}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (digits.charCodeAt(i) - 48) * (10 - i);
  let check = 11 - (sum % 11);
  if (check === 11) check = 0;
  return check !== 10 && check === digits.charCodeAt(9) - 48;
}

const NHS_CANDIDATE = /(?<![\d-])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\d])/g;

export function countNhsNumbers(text: string): number {
  let n = 0;
  for (const m of text.matchAll(NHS_CANDIDATE)) if (nhsNumberValid(m[0].replace(/[ -]/g, ''))) n++;
  return n;
}

/** A tenant's pattern (already compiled and checked at save time); bounded input keeps it cheap. */
export function countPattern(re: RegExp, text: string): number {
  const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
  let n = 0;
  for (const _ of text.matchAll(g)) if (++n >= 100) break;
  return n;
}

// libmime (nodemailer's MIME helpers) ships no types; we use one function of it.
declare module 'libmime' {
  const libmime: { decodeWords(s: string): string };
  export default libmime;
}

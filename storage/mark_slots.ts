/**
 * A pair of slots that hold one growing number (the last acknowledged record's) so that an
 * update torn by a crash never loses it: updates alternate between the slots, each slot carries a
 * checksum of its number and its position, and a reader takes the highest slot whose checksum
 * holds. A torn update damages only the slot being written; the other still holds the previous
 * value.
 *
 * ```text
 * slot: sequence (u64 LE) | CRC-32 of the sequence and the slot number (u32 LE) | reserved (u32)
 * ```
 *
 * The high-water file (high_water.ts) and every log segment's header (wal_format.ts) keep one.
 *
 * @module
 */
import { ByteWriter } from "./binary.ts";
import { crc32 } from "./crc32.ts";

/** The size of one slot; a pair takes twice as much. */
export const SLOT_BYTES = 16;

/**
 * Encodes slot number `index` (0 or 1) holding `seq`.
 *
 * @param seq The sequence number.
 * @param index Which slot of the pair it goes to.
 * @returns The slot's 16 bytes.
 *
 * @example Usage
 * ```ts ignore
 * const bytes = encodeSlot(42, 1);
 * console.log(bytes.length); // 16
 * ```
 */
export function encodeSlot(seq: number, index: number): Uint8Array {
  const checksum = crc32(new ByteWriter().u64(seq).u32(index).view());
  return new ByteWriter().u64(seq).u32(checksum).u32(0).view().slice();
}

/**
 * Reads a pair of slots at `at`.
 *
 * @param view The bytes holding the pair.
 * @param at Where the pair starts.
 * @returns The highest valid number and the slot holding it, or `undefined` when both are damaged.
 *
 * @example Usage
 * ```ts ignore
 * const pair = new Uint8Array([...encodeSlot(7, 0), ...encodeSlot(9, 1)]);
 * console.log(readSlots(new DataView(pair.buffer), 0)); // { seq: 9, slot: 1 }
 * ```
 */
export function readSlots(
  view: DataView,
  at: number,
): { readonly seq: number; readonly slot: number } | undefined {
  let best: { seq: number; slot: number } | undefined;
  for (let slot = 0; slot < 2; slot++) {
    const start = at + slot * SLOT_BYTES;
    const seq = view.getUint32(start, true) + view.getUint32(start + 4, true) * 0x100000000;
    const expected = new DataView(encodeSlot(seq, slot).buffer).getUint32(8, true);
    if (view.getUint32(start + 8, true) === expected && seq >= (best?.seq ?? 0)) {
      best = { seq, slot };
    }
  }
  return best;
}

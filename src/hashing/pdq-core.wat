;; PDQ luma, blur, decimation and DCT (shared/docs/pdq-spec.md sections 0, 1, 2 and 4) in float32 SIMD.
;; Regenerate src/hashing/pdq-core-wasm.ts with `npx tsx scripts/build-wasm.ts`.
;;
;; Bit-exactness: every lane runs the reference's float32 sequence for one line
;; (running sum, add then subtract as two roundings, `sum / count` as a true
;; division), so the result equals the JS blur in pdq.ts bit for bit.
;;
;; Running sums go down columns, 4 adjacent columns per v128. The horizontal
;; passes run as vertical passes on the transposed image: sums along a row are
;; sequential, and transposing in 4x4 blocks is cheaper than gathering lanes.
;; Lines whose length is not a multiple of 4 end with one overlapping block or
;; vector at n - 4 (sides are at least 5): it recomputes the same values, so
;; no tail code and no padding is needed.
;;
;; Rows of the intermediate images are padded to an odd multiple of 16 bytes:
;; with a power-of-two row length (512) the columns a transpose writes all map
;; to the same few cache sets, which made it ten times slower.
(module
  (memory (export "memory") 1 65536)

  ;; Luma (spec section 0) of a raster copied into memory, sampled at a byte
  ;; address per output row and a byte offset within the row per output column.
  ;; Each i32 lane holds the first 4 bytes of one sampled pixel (R G B and a byte
  ;; not used, or the grey value and 3 not used), gathered 4 pixels at a time;
  ;; the caller leaves 4 bytes of slack after the raster for the last pixel.
  ;; Samples convert as signed i32 (exact for 0-255): the unsigned conversion
  ;; has no x64 instruction and made this 1.7 times slower. Each f32x4 operation rounds
  ;; to float32 and none is fused, so this equals pdqLuma bit for bit.

  ;; One output row of `width` (at least 4) floats from R G B: f32(f32(f32(0.299 R)
  ;; + f32(0.587 G)) + f32(0.114 B)), each operation rounded to float32 as in
  ;; pdqLuma. Returns lanes that are non-zero iff some pixel has R != G or G != B.
  (func $colourRow (param $row i32) (param $columns i32) (param $width i32) (param $out i32) (result v128)
    (local $x i32) (local $at v128) (local $p v128) (local $colour v128)
    (loop $blocks
      ;; The last block overlaps the previous one when width is not a multiple of 4.
      (if (i32.gt_s (local.get $x) (i32.sub (local.get $width) (i32.const 4)))
        (then (local.set $x (i32.sub (local.get $width) (i32.const 4)))))
      (local.set $at (i32x4.add (v128.load (i32.add (local.get $columns) (i32.shl (local.get $x) (i32.const 2))))
        (i32x4.splat (local.get $row))))
      (local.set $p
        (v128.load32_lane 3 (i32x4.extract_lane 3 (local.get $at))
          (v128.load32_lane 2 (i32x4.extract_lane 2 (local.get $at))
            (v128.load32_lane 1 (i32x4.extract_lane 1 (local.get $at))
              (v128.load32_zero (i32x4.extract_lane 0 (local.get $at)))))))
      (v128.store (i32.add (local.get $out) (i32.shl (local.get $x) (i32.const 2)))
        (f32x4.add
          (f32x4.add
            (f32x4.mul (v128.const f32x4 0.299 0.299 0.299 0.299)
              (f32x4.convert_i32x4_s (v128.and (local.get $p) (v128.const i32x4 255 255 255 255))))
            (f32x4.mul (v128.const f32x4 0.587 0.587 0.587 0.587)
              (f32x4.convert_i32x4_s (v128.and (i32x4.shr_u (local.get $p) (i32.const 8))
                (v128.const i32x4 255 255 255 255)))))
          (f32x4.mul (v128.const f32x4 0.114 0.114 0.114 0.114)
            (f32x4.convert_i32x4_s (v128.and (i32x4.shr_u (local.get $p) (i32.const 16))
              (v128.const i32x4 255 255 255 255))))))
      ;; Low 16 bits of p ^ (p >> 8) are (R ^ G) | (G ^ B) << 8.
      (local.set $colour (v128.or (local.get $colour)
        (v128.and (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 8)))
          (v128.const i32x4 0xffff 0xffff 0xffff 0xffff))))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (br_if $blocks (i32.lt_s (local.get $x) (local.get $width))))
    (local.get $colour))

  ;; One output row of `width` (at least 4) floats: the first byte of each pixel as is.
  (func $greyRow (param $row i32) (param $columns i32) (param $width i32) (param $out i32)
    (local $x i32) (local $at v128) (local $p v128)
    (loop $blocks
      (if (i32.gt_s (local.get $x) (i32.sub (local.get $width) (i32.const 4)))
        (then (local.set $x (i32.sub (local.get $width) (i32.const 4)))))
      (local.set $at (i32x4.add (v128.load (i32.add (local.get $columns) (i32.shl (local.get $x) (i32.const 2))))
        (i32x4.splat (local.get $row))))
      (local.set $p
        (v128.load32_lane 3 (i32x4.extract_lane 3 (local.get $at))
          (v128.load32_lane 2 (i32x4.extract_lane 2 (local.get $at))
            (v128.load32_lane 1 (i32x4.extract_lane 1 (local.get $at))
              (v128.load32_zero (i32x4.extract_lane 0 (local.get $at)))))))
      (v128.store (i32.add (local.get $out) (i32.shl (local.get $x) (i32.const 2)))
        (f32x4.convert_i32x4_s (v128.and (local.get $p) (v128.const i32x4 255 255 255 255))))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (br_if $blocks (i32.lt_s (local.get $x) (local.get $width)))))

  ;; width x height floats at `out`: row y samples the raster row at byte address
  ;; rows[y], column x the pixel at byte offset columns[x] in it (i32 arrays).
  ;; Colour input (3 or 4 channels) whose sampled pixels are all grey is taken
  ;; as grey, as in pdqLuma.
  (func (export "luma")
    (param $rows i32) (param $columns i32) (param $width i32) (param $height i32) (param $channels i32)
    (param $out i32)
    (local $y i32) (local $colour v128)
    (if (i32.ge_u (local.get $channels) (i32.const 3))
      (then
        (loop $colourRows
          (local.set $colour (v128.or (local.get $colour)
            (call $colourRow (i32.load (i32.add (local.get $rows) (i32.shl (local.get $y) (i32.const 2))))
              (local.get $columns) (local.get $width)
              (i32.add (local.get $out) (i32.shl (i32.mul (local.get $y) (local.get $width)) (i32.const 2))))))
          (local.set $y (i32.add (local.get $y) (i32.const 1)))
          (br_if $colourRows (i32.lt_u (local.get $y) (local.get $height))))
        (if (v128.any_true (local.get $colour)) (then (return)))
        (local.set $y (i32.const 0))))
    (loop $greyRows
      (call $greyRow (i32.load (i32.add (local.get $rows) (i32.shl (local.get $y) (i32.const 2))))
        (local.get $columns) (local.get $width)
        (i32.add (local.get $out) (i32.shl (i32.mul (local.get $y) (local.get $width)) (i32.const 2))))
      (local.set $y (i32.add (local.get $y) (i32.const 1)))
      (br_if $greyRows (i32.lt_u (local.get $y) (local.get $height)))))

  ;; dst (cols x rows) = transpose of src (rows x cols), both row-major float32
  ;; with rows the given numbers of bytes apart.
  (func $transpose (param $src i32) (param $srcStride i32) (param $dst i32) (param $dstStride i32)
    (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $p i32) (local $q i32)
    (local $a v128) (local $b v128) (local $x v128) (local $y v128)
    (local $ab01 v128) (local $ab23 v128) (local $xy01 v128) (local $xy23 v128)
    (loop $blockRows
      (if (i32.gt_s (local.get $r) (i32.sub (local.get $rows) (i32.const 4)))
        (then (local.set $r (i32.sub (local.get $rows) (i32.const 4)))))
      (local.set $c (i32.const 0))
      (loop $blockCols
        (if (i32.gt_s (local.get $c) (i32.sub (local.get $cols) (i32.const 4)))
          (then (local.set $c (i32.sub (local.get $cols) (i32.const 4)))))
        (local.set $p (i32.add (local.get $src)
          (i32.add (i32.mul (local.get $r) (local.get $srcStride)) (i32.shl (local.get $c) (i32.const 2)))))
        (local.set $a (v128.load (local.get $p)))
        (local.set $p (i32.add (local.get $p) (local.get $srcStride)))
        (local.set $b (v128.load (local.get $p)))
        (local.set $p (i32.add (local.get $p) (local.get $srcStride)))
        (local.set $x (v128.load (local.get $p)))
        (local.set $p (i32.add (local.get $p) (local.get $srcStride)))
        (local.set $y (v128.load (local.get $p)))
        ;; Interleave pairs of rows, then pairs of pairs: lane k of output
        ;; vector j is element j of input row k.
        (local.set $ab01 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
        (local.set $ab23 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
        (local.set $xy01 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x) (local.get $y)))
        (local.set $xy23 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x) (local.get $y)))
        (local.set $q (i32.add (local.get $dst)
          (i32.add (i32.mul (local.get $c) (local.get $dstStride)) (i32.shl (local.get $r) (i32.const 2)))))
        (v128.store (local.get $q)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $ab01) (local.get $xy01)))
        (local.set $q (i32.add (local.get $q) (local.get $dstStride)))
        (v128.store (local.get $q)
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $ab01) (local.get $xy01)))
        (local.set $q (i32.add (local.get $q) (local.get $dstStride)))
        (v128.store (local.get $q)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $ab23) (local.get $xy23)))
        (local.set $q (i32.add (local.get $q) (local.get $dstStride)))
        (v128.store (local.get $q)
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $ab23) (local.get $xy23)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br_if $blockCols (i32.lt_s (local.get $c) (local.get $cols))))
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br_if $blockRows (i32.lt_s (local.get $r) (local.get $rows)))))

  ;; One row step of the column sums. A row has `vecBytes / 16` vectors; the
  ;; ones at byte offsets from `fullBytes` on are the overlapping last vector,
  ;; read from column byte offset `tailOff` and summed in its own slot of
  ;; `sums`. When `out` is not -1, writes sum / count for the row there.

  ;; sums += row `add`.
  (func $addRow
    (param $add i32) (param $out i32) (param $sums i32) (param $count v128)
    (param $vecBytes i32) (param $fullBytes i32) (param $tailOff i32)
    (local $k i32) (local $col i32) (local $sum v128)
    (if (i32.eq (local.get $out) (i32.const -1))
      (then
        (loop $vectors
          (local.set $col (select (local.get $k) (local.get $tailOff) (i32.lt_u (local.get $k) (local.get $fullBytes))))
          (v128.store (i32.add (local.get $sums) (local.get $k))
            (f32x4.add (v128.load (i32.add (local.get $sums) (local.get $k)))
                       (v128.load (i32.add (local.get $add) (local.get $col)))))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $vectors (i32.lt_u (local.get $k) (local.get $vecBytes)))))
      (else
        (loop $vectors
          (local.set $col (select (local.get $k) (local.get $tailOff) (i32.lt_u (local.get $k) (local.get $fullBytes))))
          (local.set $sum
            (f32x4.add (v128.load (i32.add (local.get $sums) (local.get $k)))
                       (v128.load (i32.add (local.get $add) (local.get $col)))))
          (v128.store (i32.add (local.get $sums) (local.get $k)) (local.get $sum))
          (v128.store (i32.add (local.get $out) (local.get $col)) (f32x4.div (local.get $sum) (local.get $count)))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $vectors (i32.lt_u (local.get $k) (local.get $vecBytes)))))))

  ;; sums = (sums + row `add`) - row `sub`, rounded after each operation.
  (func $addSubRow
    (param $add i32) (param $sub i32) (param $out i32) (param $sums i32) (param $count v128)
    (param $vecBytes i32) (param $fullBytes i32) (param $tailOff i32)
    (local $k i32) (local $col i32) (local $sum v128)
    (if (i32.eq (local.get $out) (i32.const -1))
      (then
        (loop $vectors
          (local.set $col (select (local.get $k) (local.get $tailOff) (i32.lt_u (local.get $k) (local.get $fullBytes))))
          (v128.store (i32.add (local.get $sums) (local.get $k))
            (f32x4.sub
              (f32x4.add (v128.load (i32.add (local.get $sums) (local.get $k)))
                         (v128.load (i32.add (local.get $add) (local.get $col))))
              (v128.load (i32.add (local.get $sub) (local.get $col)))))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $vectors (i32.lt_u (local.get $k) (local.get $vecBytes)))))
      (else
        (loop $vectors
          (local.set $col (select (local.get $k) (local.get $tailOff) (i32.lt_u (local.get $k) (local.get $fullBytes))))
          (local.set $sum
            (f32x4.sub
              (f32x4.add (v128.load (i32.add (local.get $sums) (local.get $k)))
                         (v128.load (i32.add (local.get $add) (local.get $col))))
              (v128.load (i32.add (local.get $sub) (local.get $col)))))
          (v128.store (i32.add (local.get $sums) (local.get $k)) (local.get $sum))
          (v128.store (i32.add (local.get $out) (local.get $col)) (f32x4.div (local.get $sum) (local.get $count)))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $vectors (i32.lt_u (local.get $k) (local.get $vecBytes)))))))

  ;; sums -= row `sub`.
  (func $subRow
    (param $sub i32) (param $out i32) (param $sums i32) (param $count v128)
    (param $vecBytes i32) (param $fullBytes i32) (param $tailOff i32)
    (local $k i32) (local $col i32) (local $sum v128)
    (if (i32.eq (local.get $out) (i32.const -1))
      (then
        (loop $vectors
          (local.set $col (select (local.get $k) (local.get $tailOff) (i32.lt_u (local.get $k) (local.get $fullBytes))))
          (v128.store (i32.add (local.get $sums) (local.get $k))
            (f32x4.sub (v128.load (i32.add (local.get $sums) (local.get $k)))
                       (v128.load (i32.add (local.get $sub) (local.get $col)))))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $vectors (i32.lt_u (local.get $k) (local.get $vecBytes)))))
      (else
        (loop $vectors
          (local.set $col (select (local.get $k) (local.get $tailOff) (i32.lt_u (local.get $k) (local.get $fullBytes))))
          (local.set $sum
            (f32x4.sub (v128.load (i32.add (local.get $sums) (local.get $k)))
                       (v128.load (i32.add (local.get $sub) (local.get $col)))))
          (v128.store (i32.add (local.get $sums) (local.get $k)) (local.get $sum))
          (v128.store (i32.add (local.get $out) (local.get $col)) (f32x4.div (local.get $sum) (local.get $count)))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $vectors (i32.lt_u (local.get $k) (local.get $vecBytes)))))))

  ;; Box filter of window `window` down every column of src (width x length),
  ;; in the reference's four phases (spec section 1). With `samples` = -1 every
  ;; output row is written to dst (width x length); otherwise `samples` holds 64
  ;; ascending i32 row indices (repeats allowed) and output row samples[i] is
  ;; written to row i of dst (width x 64), the other rows only summed. Strides
  ;; are in bytes; `sums` is scratch for (width / 4 + 1) vectors.
  (func $boxColumns
    (param $src i32) (param $srcStride i32) (param $dst i32) (param $dstStride i32)
    (param $width i32) (param $length i32) (param $window i32) (param $samples i32) (param $sums i32)
    (local $rowBytes i32) (local $fullBytes i32) (local $vecBytes i32) (local $tailOff i32)
    (local $half i32) (local $growing i32) (local $shrinkFrom i32)
    (local $add i32) (local $sub i32) (local $out i32) (local $row i32) (local $next i32)
    (local $count i32) (local $i i32)
    (local.set $rowBytes (i32.shl (local.get $width) (i32.const 2)))
    (local.set $fullBytes (i32.shl (i32.shr_u (local.get $width) (i32.const 2)) (i32.const 4)))
    (local.set $vecBytes (i32.add (local.get $fullBytes)
      (select (i32.const 16) (i32.const 0) (i32.and (local.get $width) (i32.const 3)))))
    (local.set $tailOff (i32.sub (local.get $rowBytes) (i32.const 16)))
    (local.set $half (i32.shr_u (i32.add (local.get $window) (i32.const 2)) (i32.const 1)))
    (local.set $growing (i32.add (i32.sub (local.get $window) (local.get $half)) (i32.const 1)))
    (local.set $shrinkFrom (i32.add (local.get $growing) (i32.sub (local.get $length) (local.get $window))))
    (memory.fill (local.get $sums) (i32.const 0) (local.get $vecBytes))
    (local.set $add (local.get $src))
    (local.set $sub (local.get $src))
    ;; Phase 1: the first half - 1 samples are summed without output.
    (block $primed
      (loop $priming
        (br_if $primed (i32.ge_s (local.get $count) (i32.sub (local.get $half) (i32.const 1))))
        (call $addRow (local.get $add) (i32.const -1) (local.get $sums) (v128.const i32x4 0 0 0 0)
          (local.get $vecBytes) (local.get $fullBytes) (local.get $tailOff))
        (local.set $add (i32.add (local.get $add) (local.get $srcStride)))
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (br $priming)))
    ;; Phases 2-4, one output row each: growing window, full window, shrinking window.
    (loop $rows
      (local.set $out (i32.const -1))
      (if (i32.eq (local.get $samples) (i32.const -1))
        (then (local.set $out (i32.add (local.get $dst) (i32.mul (local.get $row) (local.get $dstStride)))))
        (else
          (if (i32.and
                (i32.lt_u (local.get $next) (i32.const 64))
                (i32.eq (i32.load (i32.add (local.get $samples) (i32.shl (local.get $next) (i32.const 2))))
                        (local.get $row)))
            (then
              (local.set $out (i32.add (local.get $dst) (i32.mul (local.get $next) (local.get $dstStride))))
              (local.set $next (i32.add (local.get $next) (i32.const 1)))))))
      (if (i32.lt_s (local.get $row) (local.get $growing))
        (then
          (local.set $count (i32.add (local.get $count) (i32.const 1)))
          (call $addRow (local.get $add) (local.get $out) (local.get $sums)
            (f32x4.splat (f32.convert_i32_s (local.get $count)))
            (local.get $vecBytes) (local.get $fullBytes) (local.get $tailOff))
          (local.set $add (i32.add (local.get $add) (local.get $srcStride))))
        (else
          (if (i32.lt_s (local.get $row) (local.get $shrinkFrom))
            (then
              (call $addSubRow (local.get $add) (local.get $sub) (local.get $out) (local.get $sums)
                (f32x4.splat (f32.convert_i32_s (local.get $count)))
                (local.get $vecBytes) (local.get $fullBytes) (local.get $tailOff))
              (local.set $add (i32.add (local.get $add) (local.get $srcStride)))
              (local.set $sub (i32.add (local.get $sub) (local.get $srcStride))))
            (else
              (local.set $count (i32.sub (local.get $count) (i32.const 1)))
              (call $subRow (local.get $sub) (local.get $out) (local.get $sums)
                (f32x4.splat (f32.convert_i32_s (local.get $count)))
                (local.get $vecBytes) (local.get $fullBytes) (local.get $tailOff))
              (local.set $sub (i32.add (local.get $sub) (local.get $srcStride)))))))
      ;; A side under 64 samples some rows more than once: copy the row written.
      (if (i32.ne (local.get $out) (i32.const -1))
        (then
          (block $copied
            (loop $repeats
              (br_if $copied (i32.eq (local.get $samples) (i32.const -1)))
              (br_if $copied (i32.ge_u (local.get $next) (i32.const 64)))
              (br_if $copied (i32.ne
                (i32.load (i32.add (local.get $samples) (i32.shl (local.get $next) (i32.const 2))))
                (local.get $row)))
              (memory.copy (i32.add (local.get $dst) (i32.mul (local.get $next) (local.get $dstStride)))
                (local.get $out) (local.get $rowBytes))
              (local.set $next (i32.add (local.get $next) (i32.const 1)))
              (br $repeats)))))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br_if $rows (i32.lt_s (local.get $row) (local.get $length)))))

  (func $window (param $side i32) (result i32)
    (i32.shr_u (i32.add (local.get $side) (i32.const 127)) (i32.const 7)))

  ;; Bytes per padded row of n floats: a multiple of 16, odd in units of 16.
  (func $paddedStride (param $n i32) (result i32)
    (i32.shl (i32.or (i32.and (i32.add (local.get $n) (i32.const 3)) (i32.const -4)) (i32.const 4)) (i32.const 2)))

;; The 64 x 64 decimation of the tent-blurred luma (width x height at `luma`,
  ;; unpadded): horizontal, vertical, horizontal, vertical box passes, the third
  ;; writing only the sampled columns and the fourth only the sampled rows, to
  ;; `out` (64 x 64, unpadded). `imageA` and `imageB` hold (m + 8) x (m + 8)
  ;; floats for m = max(width, height, 64), `columns` 64 x (m + 8); `rowSamples`
  ;; and `colSamples` are the 64 decimation indices of each axis.
  (func (export "blurAndDecimate")
    (param $luma i32) (param $width i32) (param $height i32)
    (param $imageA i32) (param $imageB i32) (param $columns i32) (param $out i32)
    (param $sums i32) (param $rowSamples i32) (param $colSamples i32)
    (local $winAlongRows i32) (local $winAlongCols i32)
    (local $widthStride i32) (local $heightStride i32) (local $sampledStride i32)
    (local.set $winAlongRows (call $window (local.get $width)))
    (local.set $winAlongCols (call $window (local.get $height)))
    (local.set $widthStride (call $paddedStride (local.get $width)))
    (local.set $heightStride (call $paddedStride (local.get $height)))
    (local.set $sampledStride (call $paddedStride (i32.const 64)))
    (call $transpose (local.get $luma) (i32.shl (local.get $width) (i32.const 2))
      (local.get $imageA) (local.get $heightStride) (local.get $height) (local.get $width))
    (call $boxColumns (local.get $imageA) (local.get $heightStride) (local.get $imageB) (local.get $heightStride)
      (local.get $height) (local.get $width) (local.get $winAlongRows) (i32.const -1) (local.get $sums))
    (call $transpose (local.get $imageB) (local.get $heightStride)
      (local.get $imageA) (local.get $widthStride) (local.get $width) (local.get $height))
    (call $boxColumns (local.get $imageA) (local.get $widthStride) (local.get $imageB) (local.get $widthStride)
      (local.get $width) (local.get $height) (local.get $winAlongCols) (i32.const -1) (local.get $sums))
    (call $transpose (local.get $imageB) (local.get $widthStride)
      (local.get $imageA) (local.get $heightStride) (local.get $height) (local.get $width))
    (call $boxColumns (local.get $imageA) (local.get $heightStride) (local.get $columns) (local.get $heightStride)
      (local.get $height) (local.get $width) (local.get $winAlongRows) (local.get $colSamples) (local.get $sums))
    (call $transpose (local.get $columns) (local.get $heightStride)
      (local.get $imageB) (local.get $sampledStride) (i32.const 64) (local.get $height))
    (call $boxColumns (local.get $imageB) (local.get $sampledStride) (local.get $out) (i32.const 256)
      (i32.const 64) (local.get $height) (local.get $winAlongCols) (local.get $rowSamples) (local.get $sums)))

  ;; B (16 x 16 at `b`) = D A D^T for A (64 x 64 at `a`), D (16 x 64 at `d`)
  ;; and its transpose (64 x 16 at `dT`), via T = D A (16 x 64 at `t`). Each
  ;; lane is one output element whose float32 accumulator sums k in increasing
  ;; order, as the reference does (no fused multiply-add). Four accumulators
  ;; (16 adjacent outputs) share each splat of D and are independent, so the
  ;; additions' latency overlaps instead of chaining.
  (func $sixteenOutputs (param $scalars i32) (param $vectors i32) (param $vectorStride i32) (param $out i32)
    (local $k i32) (local $s v128) (local $at i32) (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local.set $at (local.get $vectors))
    (loop $terms
      (local.set $s (f32x4.splat (f32.load (i32.add (local.get $scalars) (i32.shl (local.get $k) (i32.const 2))))))
      (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (local.get $s) (v128.load (local.get $at)))))
      (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $at)))))
      (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (local.get $s) (v128.load offset=32 (local.get $at)))))
      (local.set $acc3 (f32x4.add (local.get $acc3) (f32x4.mul (local.get $s) (v128.load offset=48 (local.get $at)))))
      (local.set $at (i32.add (local.get $at) (local.get $vectorStride)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $terms (i32.lt_u (local.get $k) (i32.const 64))))
    (v128.store (local.get $out) (local.get $acc0))
    (v128.store offset=16 (local.get $out) (local.get $acc1))
    (v128.store offset=32 (local.get $out) (local.get $acc2))
    (v128.store offset=48 (local.get $out) (local.get $acc3)))

  (func (export "dct16") (param $a i32) (param $d i32) (param $dT i32) (param $t i32) (param $b i32)
    (local $i i32) (local $j i32)
    ;; T row i, 16 columns at a time: sum over k of D[i][k] A[k][j..j+15].
    (loop $tRows
      (local.set $j (i32.const 0))
      (loop $tBlocks
        (call $sixteenOutputs
          (i32.add (local.get $d) (i32.shl (local.get $i) (i32.const 8)))
          (i32.add (local.get $a) (local.get $j))
          (i32.const 256)
          (i32.add (local.get $t) (i32.add (i32.shl (local.get $i) (i32.const 8)) (local.get $j))))
        (local.set $j (i32.add (local.get $j) (i32.const 64)))
        (br_if $tBlocks (i32.lt_u (local.get $j) (i32.const 256))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $tRows (i32.lt_u (local.get $i) (i32.const 16))))
    ;; B row i: sum over k of T[i][k] D^T[k][0..15].
    (local.set $i (i32.const 0))
    (loop $bRows
      (call $sixteenOutputs
        (i32.add (local.get $t) (i32.shl (local.get $i) (i32.const 8)))
        (local.get $dT)
        (i32.const 64)
        (i32.add (local.get $b) (i32.shl (local.get $i) (i32.const 6))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $bRows (i32.lt_u (local.get $i) (i32.const 16)))))

    ;; |trunc(f32(f32(f32(x - y) * 100) / 255))| of 4 lanes: one gradient term of
  ;; the quality (spec section 3), each operation rounded to float32 as in pdq.ts.
  ;; A term is at most 100, so the saturating truncation never saturates.
  (func $gradient (param $x v128) (param $y v128) (result v128)
    (i32x4.abs (i32x4.trunc_sat_f32x4_s
      (f32x4.div
        (f32x4.mul (f32x4.sub (local.get $x) (local.get $y)) (v128.const f32x4 100 100 100 100))
        (v128.const f32x4 255 255 255 255)))))

  ;; Sum of the gradient terms of a 64 x 64 matrix at $a: each element against
  ;; the one below it (63 rows) and the one to its right (63 columns). A row's
  ;; 63 horizontal terms are 15 vectors from columns 0-59 and one at columns
  ;; 59-62 with its first lane (column 59, already counted) masked off.
  (func (export "gradientSum") (param $a i32) (result i32)
    (local $row i32) (local $end i32) (local $j i32) (local $acc v128)
    (local.set $end (i32.add (local.get $a) (i32.const 16384)))
    (local.set $row (local.get $a))
    (loop $rows
      (local.set $j (i32.const 0))
      (loop $vectors
        (if (i32.lt_u (local.get $row) (i32.sub (local.get $end) (i32.const 256)))
          (then
            (local.set $acc (i32x4.add (local.get $acc) (call $gradient
              (v128.load (i32.add (local.get $row) (local.get $j)))
              (v128.load (i32.add (local.get $row) (i32.add (local.get $j) (i32.const 256)))))))))
        (if (i32.lt_u (local.get $j) (i32.const 240))
          (then
            (local.set $acc (i32x4.add (local.get $acc) (call $gradient
              (v128.load (i32.add (local.get $row) (local.get $j)))
              (v128.load (i32.add (local.get $row) (i32.add (local.get $j) (i32.const 4)))))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $vectors (i32.lt_u (local.get $j) (i32.const 256))))
      (local.set $acc (i32x4.add (local.get $acc) (v128.and
        (call $gradient
          (v128.load (i32.add (local.get $row) (i32.const 236)))
          (v128.load (i32.add (local.get $row) (i32.const 240))))
        (v128.const i32x4 0 -1 -1 -1))))
      (local.set $row (i32.add (local.get $row) (i32.const 256)))
      (br_if $rows (i32.lt_u (local.get $row) (local.get $end))))
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
      (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc))))))

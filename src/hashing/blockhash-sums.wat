;; Byte sums over ranges of raster rows, for blockhash's block values
;; (src/hashing/blockhash-sums.ts). Regenerate src/hashing/blockhash-sums-wasm.ts
;; with `npx tsx scripts/build-wasm.ts`.
;;
;; For an RGB raster the sum of the bytes of a range of pixels is the sum of
;; R + G + B over them, blockhash's pixel value; for grey it is a third of it.
;; Integer sums are exact in any order, so 16 bytes are added at a time.
(module
  (memory (export "memory") 1 65536)

  ;; For each of `rows` rows of `stride` bytes starting at `src`, and each of
  ;; `nRuns` byte ranges of a row (i32 pairs start, length at `runs`), the sum
  ;; of the bytes in that range as an i32 at out[row * nRuns + run]. A range is
  ;; at most 8,421,504 bytes (a sum under 2^31).
  (func (export "rangeSums") (param $src i32) (param $stride i32) (param $rows i32) (param $runs i32) (param $nRuns i32) (param $out i32)
    (local $y i32) (local $r i32) (local $row i32) (local $run i32)
    (local $p i32) (local $end i32) (local $acc v128) (local $sum i32)
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $row (i32.add (local.get $src) (i32.mul (local.get $y) (local.get $stride))))
        (local.set $r (i32.const 0))
        (block $runsDone
          (loop $runLoop
            (br_if $runsDone (i32.ge_u (local.get $r) (local.get $nRuns)))
            (local.set $run (i32.add (local.get $runs) (i32.shl (local.get $r) (i32.const 3))))
            (local.set $p (i32.add (local.get $row) (i32.load (local.get $run))))
            (local.set $end (i32.add (local.get $p) (i32.load offset=4 (local.get $run))))
            (local.set $acc (v128.const i32x4 0 0 0 0))
            ;; 32 bytes per step: two pairwise widenings to 16 bits, one to 32.
            (block $pairsDone
              (loop $pairLoop
                (br_if $pairsDone (i32.gt_u (i32.add (local.get $p) (i32.const 32)) (local.get $end)))
                (local.set $acc
                  (i32x4.add (local.get $acc)
                    (i32x4.extadd_pairwise_i16x8_u
                      (i16x8.add
                        (i16x8.extadd_pairwise_i8x16_u (v128.load (local.get $p)))
                        (i16x8.extadd_pairwise_i8x16_u (v128.load offset=16 (local.get $p)))))))
                (local.set $p (i32.add (local.get $p) (i32.const 32)))
                (br $pairLoop)))
            (if (i32.le_u (i32.add (local.get $p) (i32.const 16)) (local.get $end))
              (then
                (local.set $acc
                  (i32x4.add (local.get $acc)
                    (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (v128.load (local.get $p))))))
                (local.set $p (i32.add (local.get $p) (i32.const 16)))))
            (local.set $sum
              (i32.add
                (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
                (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
            (block $tailDone
              (loop $tailLoop
                (br_if $tailDone (i32.ge_u (local.get $p) (local.get $end)))
                (local.set $sum (i32.add (local.get $sum) (i32.load8_u (local.get $p))))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (br $tailLoop)))
            (i32.store
              (i32.add (local.get $out)
                (i32.shl (i32.add (i32.mul (local.get $y) (local.get $nRuns)) (local.get $r)) (i32.const 2)))
              (local.get $sum))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $runLoop)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $rowLoop))))
)

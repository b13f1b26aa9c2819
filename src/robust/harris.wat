;; The Harris response of a plane (keypoints.ts: harris, blur, boxRows,
;; boxColumns), bit-identical to its JS: the same float64 operations in the
;; same order on float32 samples, each stored value rounded once to float32
;; as a Float32Array store rounds it. Regenerate src/robust/harris-wasm.ts
;; with `npx tsx scripts/build-wasm.ts`.
;;
;; Planes are width x height float32, row-major, at byte addresses the caller
;; lays out; `sums` is width float64 of scratch.
(module
  (memory (export "memory") 1)

  ;; A running box mean of radius $r along every row, edges clamped. Two rows
  ;; at a time, one per float64 lane (the last row of an odd count twice): the
  ;; running sums are independent, so their additions overlap.
  (func $boxRows (param $src i32) (param $out i32) (param $width i32) (param $height i32) (param $r i32)
    (local $norm v128) (local $sum v128) (local $y i32) (local $k i32) (local $row0 i32) (local $row1 i32)
    (local $out0 i32) (local $out1 i32) (local $last i32) (local $add i32) (local $drop i32) (local $v v128)
    (local.set $norm (f64x2.splat (f64.div (f64.const 1) (f64.convert_i32_s (i32.add (i32.shl (local.get $r) (i32.const 1)) (i32.const 1))))))
    (local.set $last (i32.sub (local.get $width) (i32.const 1)))
    (loop $rows
      (local.set $row0 (i32.shl (i32.mul (local.get $y) (local.get $width)) (i32.const 2)))
      (local.set $row1 (i32.shl (i32.mul
        (select (local.get $y) (i32.add (local.get $y) (i32.const 1)) (i32.ge_s (i32.add (local.get $y) (i32.const 1)) (local.get $height)))
        (local.get $width)) (i32.const 2)))
      (local.set $out0 (i32.add (local.get $out) (local.get $row0)))
      (local.set $out1 (i32.add (local.get $out) (local.get $row1)))
      (local.set $row0 (i32.add (local.get $src) (local.get $row0)))
      (local.set $row1 (i32.add (local.get $src) (local.get $row1)))
      (local.set $sum (v128.const i64x2 0 0))
      (local.set $k (i32.sub (i32.const 0) (local.get $r)))
      (loop $window
        (local.set $add (i32.shl
          (select (i32.const 0) (select (local.get $last) (local.get $k) (i32.gt_s (local.get $k) (local.get $last))) (i32.lt_s (local.get $k) (i32.const 0)))
          (i32.const 2)))
        (local.set $sum (f64x2.add (local.get $sum) (call $pair (i32.add (local.get $row0) (local.get $add)) (i32.add (local.get $row1) (local.get $add)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br_if $window (i32.le_s (local.get $k) (local.get $r))))
      (local.set $k (i32.const 0))
      (loop $pixels
        (local.set $v (f32x4.demote_f64x2_zero (f64x2.mul (local.get $sum) (local.get $norm))))
        (v128.store32_lane 0 (local.get $out0) (local.get $v))
        (v128.store32_lane 1 (local.get $out1) (local.get $v))
        (local.set $out0 (i32.add (local.get $out0) (i32.const 4)))
        (local.set $out1 (i32.add (local.get $out1) (i32.const 4)))
        (local.set $add (i32.add (local.get $k) (i32.add (local.get $r) (i32.const 1))))
        (local.set $add (i32.shl (select (local.get $last) (local.get $add) (i32.gt_s (local.get $add) (local.get $last))) (i32.const 2)))
        (local.set $drop (i32.sub (local.get $k) (local.get $r)))
        (local.set $drop (i32.shl (select (i32.const 0) (local.get $drop) (i32.lt_s (local.get $drop) (i32.const 0))) (i32.const 2)))
        (local.set $sum (f64x2.add (local.get $sum) (f64x2.sub
          (call $pair (i32.add (local.get $row0) (local.get $add)) (i32.add (local.get $row1) (local.get $add)))
          (call $pair (i32.add (local.get $row0) (local.get $drop)) (i32.add (local.get $row1) (local.get $drop))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br_if $pixels (i32.lt_s (local.get $k) (local.get $width))))
      (local.set $y (i32.add (local.get $y) (i32.const 2)))
      (br_if $rows (i32.lt_s (local.get $y) (local.get $height)))))

  ;; The float32 at $a and the one at $b, as the two float64 lanes.
  (func $pair (param $a i32) (param $b i32) (result v128)
    (f64x2.promote_low_f32x4 (v128.load32_lane 1 (local.get $b) (v128.load32_zero (local.get $a)))))

  (func $clamp (param $v i32) (param $last i32) (result i32)
    (select (i32.const 0)
      (select (local.get $last) (local.get $v) (i32.gt_s (local.get $v) (local.get $last)))
      (i32.lt_s (local.get $v) (i32.const 0))))

  ;; The same along every column, a row at a time, each column's running sum
  ;; kept in $sums (added in the same order as $boxRows adds a row's); two
  ;; columns per float64x2, an odd last column alone.
  (func $boxColumns (param $src i32) (param $out i32) (param $width i32) (param $height i32) (param $r i32) (param $sums i32)
    (local $norm f64) (local $y i32) (local $k i32) (local $x i32) (local $row i32) (local $last i32)
    (local $add i32) (local $drop i32) (local $base i32) (local $at i32) (local $pairs i32) (local $s v128)
    (local.set $norm (f64.div (f64.const 1) (f64.convert_i32_s (i32.add (i32.shl (local.get $r) (i32.const 1)) (i32.const 1)))))
    (local.set $last (i32.sub (local.get $height) (i32.const 1)))
    (local.set $pairs (i32.and (local.get $width) (i32.const -2)))
    (memory.fill (local.get $sums) (i32.const 0) (i32.shl (local.get $width) (i32.const 3)))
    (local.set $k (i32.sub (i32.const 0) (local.get $r)))
    (loop $window
      (local.set $row (i32.add (local.get $src)
        (i32.shl (i32.mul (call $clamp (local.get $k) (local.get $last)) (local.get $width)) (i32.const 2))))
      (local.set $x (i32.const 0))
      (block $pairsDone
        (br_if $pairsDone (i32.eqz (local.get $pairs)))
        (loop $columns
          (local.set $at (i32.add (local.get $sums) (i32.shl (local.get $x) (i32.const 3))))
          (v128.store (local.get $at) (f64x2.add (v128.load (local.get $at))
            (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $row) (i32.shl (local.get $x) (i32.const 2)))))))
          (local.set $x (i32.add (local.get $x) (i32.const 2)))
          (br_if $columns (i32.lt_s (local.get $x) (local.get $pairs)))))
      (if (i32.lt_s (local.get $x) (local.get $width))
        (then
          (local.set $at (i32.add (local.get $sums) (i32.shl (local.get $x) (i32.const 3))))
          (f64.store (local.get $at) (f64.add (f64.load (local.get $at))
            (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.shl (local.get $x) (i32.const 2)))))))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $window (i32.le_s (local.get $k) (local.get $r))))
    (local.set $y (i32.const 0))
    (loop $rows
      (local.set $base (i32.add (local.get $out) (i32.shl (i32.mul (local.get $y) (local.get $width)) (i32.const 2))))
      (local.set $add (i32.add (local.get $src)
        (i32.shl (i32.mul (call $clamp (i32.add (local.get $y) (i32.add (local.get $r) (i32.const 1))) (local.get $last)) (local.get $width)) (i32.const 2))))
      (local.set $drop (i32.add (local.get $src)
        (i32.shl (i32.mul (call $clamp (i32.sub (local.get $y) (local.get $r)) (local.get $last)) (local.get $width)) (i32.const 2))))
      (local.set $x (i32.const 0))
      (block $pairsDone
        (br_if $pairsDone (i32.eqz (local.get $pairs)))
        (loop $columns
          (local.set $at (i32.add (local.get $sums) (i32.shl (local.get $x) (i32.const 3))))
          (local.set $s (v128.load (local.get $at)))
          (v128.store64_lane 0 (i32.add (local.get $base) (i32.shl (local.get $x) (i32.const 2)))
            (f32x4.demote_f64x2_zero (f64x2.mul (local.get $s) (f64x2.splat (local.get $norm)))))
          (v128.store (local.get $at) (f64x2.add (local.get $s) (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $add) (i32.shl (local.get $x) (i32.const 2)))))
            (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $drop) (i32.shl (local.get $x) (i32.const 2))))))))
          (local.set $x (i32.add (local.get $x) (i32.const 2)))
          (br_if $columns (i32.lt_s (local.get $x) (local.get $pairs)))))
      (if (i32.lt_s (local.get $x) (local.get $width))
        (then
          (local.set $at (i32.add (local.get $sums) (i32.shl (local.get $x) (i32.const 3))))
          (f32.store (i32.add (local.get $base) (i32.shl (local.get $x) (i32.const 2)))
            (f32.demote_f64 (f64.mul (f64.load (local.get $at)) (local.get $norm))))
          (f64.store (local.get $at) (f64.add (f64.load (local.get $at)) (f64.sub
            (f64.promote_f32 (f32.load (i32.add (local.get $add) (i32.shl (local.get $x) (i32.const 2)))))
            (f64.promote_f32 (f32.load (i32.add (local.get $drop) (i32.shl (local.get $x) (i32.const 2))))))))))
      (local.set $y (i32.add (local.get $y) (i32.const 1)))
      (br_if $rows (i32.lt_s (local.get $y) (local.get $height)))))

  ;; Two box passes each way: $src to $out through $tmp ($src may be $out).
  (func $blur (param $src i32) (param $tmp i32) (param $out i32) (param $width i32) (param $height i32) (param $r i32) (param $sums i32)
    (call $boxRows (local.get $src) (local.get $tmp) (local.get $width) (local.get $height) (local.get $r))
    (call $boxRows (local.get $tmp) (local.get $out) (local.get $width) (local.get $height) (local.get $r))
    (call $boxColumns (local.get $out) (local.get $tmp) (local.get $width) (local.get $height) (local.get $r) (local.get $sums))
    (call $boxColumns (local.get $tmp) (local.get $out) (local.get $width) (local.get $height) (local.get $r) (local.get $sums)))

  ;; The response of the plane at $luma into $out; $g, $tmp, $xx, $yy, $xy
  ;; are planes of scratch, $sums width float64.
  (func (export "harris")
    (param $luma i32) (param $width i32) (param $height i32) (param $derivativeRadius i32) (param $integrationRadius i32) (param $k f64)
    (param $g i32) (param $tmp i32) (param $xx i32) (param $yy i32) (param $xy i32) (param $out i32) (param $sums i32)
    (local $x i32) (local $y i32) (local $i i32) (local $rowBytes i32) (local $dx f64) (local $dy f64)
    (local $a f64) (local $b f64) (local $c f64) (local $trace f64) (local $n i32)
    (local.set $n (i32.shl (i32.mul (local.get $width) (local.get $height)) (i32.const 2)))
    ;; The derivatives' border stays zero.
    (memory.fill (local.get $xx) (i32.const 0) (local.get $n))
    (memory.fill (local.get $yy) (i32.const 0) (local.get $n))
    (memory.fill (local.get $xy) (i32.const 0) (local.get $n))
    (call $blur (local.get $luma) (local.get $tmp) (local.get $g) (local.get $width) (local.get $height) (local.get $derivativeRadius) (local.get $sums))
    (local.set $rowBytes (i32.shl (local.get $width) (i32.const 2)))
    (local.set $y (i32.const 1))
    (block $done
      (br_if $done (i32.lt_s (local.get $height) (i32.const 3)))
      (br_if $done (i32.lt_s (local.get $width) (i32.const 3)))
      (loop $rows
        (local.set $x (i32.const 1))
        (loop $columns
          (local.set $i (i32.shl (i32.add (i32.mul (local.get $y) (local.get $width)) (local.get $x)) (i32.const 2)))
          (local.set $dx (f64.div
            (f64.sub
              (f64.promote_f32 (f32.load offset=4 (i32.add (local.get $g) (local.get $i))))
              (f64.promote_f32 (f32.load (i32.sub (i32.add (local.get $g) (local.get $i)) (i32.const 4)))))
            (f64.const 2)))
          (local.set $dy (f64.div
            (f64.sub
              (f64.promote_f32 (f32.load (i32.add (i32.add (local.get $g) (local.get $i)) (local.get $rowBytes))))
              (f64.promote_f32 (f32.load (i32.sub (i32.add (local.get $g) (local.get $i)) (local.get $rowBytes)))))
            (f64.const 2)))
          (f32.store (i32.add (local.get $xx) (local.get $i)) (f32.demote_f64 (f64.mul (local.get $dx) (local.get $dx))))
          (f32.store (i32.add (local.get $yy) (local.get $i)) (f32.demote_f64 (f64.mul (local.get $dy) (local.get $dy))))
          (f32.store (i32.add (local.get $xy) (local.get $i)) (f32.demote_f64 (f64.mul (local.get $dx) (local.get $dy))))
          (local.set $x (i32.add (local.get $x) (i32.const 1)))
          (br_if $columns (i32.lt_s (local.get $x) (i32.sub (local.get $width) (i32.const 1)))))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br_if $rows (i32.lt_s (local.get $y) (i32.sub (local.get $height) (i32.const 1))))))
    (call $blur (local.get $xx) (local.get $tmp) (local.get $xx) (local.get $width) (local.get $height) (local.get $integrationRadius) (local.get $sums))
    (call $blur (local.get $yy) (local.get $tmp) (local.get $yy) (local.get $width) (local.get $height) (local.get $integrationRadius) (local.get $sums))
    (call $blur (local.get $xy) (local.get $tmp) (local.get $xy) (local.get $width) (local.get $height) (local.get $integrationRadius) (local.get $sums))
    (local.set $i (i32.const 0))
    (block $empty
      (br_if $empty (i32.eqz (local.get $n)))
      (loop $pixels
        (local.set $a (f64.promote_f32 (f32.load (i32.add (local.get $xx) (local.get $i)))))
        (local.set $b (f64.promote_f32 (f32.load (i32.add (local.get $yy) (local.get $i)))))
        (local.set $c (f64.promote_f32 (f32.load (i32.add (local.get $xy) (local.get $i)))))
        (local.set $trace (f64.add (local.get $a) (local.get $b)))
        (f32.store (i32.add (local.get $out) (local.get $i)) (f32.demote_f64
          (f64.sub
            (f64.sub (f64.mul (local.get $a) (local.get $b)) (f64.mul (local.get $c) (local.get $c)))
            (f64.mul (f64.mul (local.get $k) (local.get $trace)) (local.get $trace)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br_if $pixels (i32.lt_u (local.get $i) (local.get $n)))))))

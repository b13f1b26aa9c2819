;; The box-averaged grid of one rectangle of a summed-area table (IntegralImage.grid
;; in pdq-region.ts), bit-identical to its JS: the same float64 operations in the
;; same order, each cell's mean rounded once to float32 as a Float32Array store
;; rounds it. Regenerate src/hashing/region-grid-wasm.ts with
;; `npx tsx scripts/build-wasm.ts`.
;;
;; The memory is the image's own (imported): its table first, then the work
;; arrays the caller fills with the grid's column and row positions.
(module
  (import "image" "memory" (memory 1))

  ;; Table values at every grid corner, bilinear in the table, into $corners
  ;; ((rows + 1) x (cols + 1) float64); then each cell's mean from its four
  ;; corners into $out (rows x cols float32).
  ;;   $xi: i32 per column edge, the table column left of it;
  ;;   $xf, $xs: f64 per column edge, its fraction past $xi and its position;
  ;;   $yi: i32 per row edge, the byte address of the table row above it;
  ;;   $yf, $ys: f64 per row edge, as for columns.
  (func (export "grid")
    (param $stride i32) (param $cols i32) (param $rows i32)
    (param $xi i32) (param $xf i32) (param $xs i32)
    (param $yi i32) (param $yf i32) (param $ys i32)
    (param $corners i32) (param $out i32)
    (local $i i32) (local $j i32) (local $top i32) (local $a i32) (local $b i32) (local $at i32)
    (local $fx f64) (local $fy f64) (local $upper f64) (local $lower f64) (local $s0 f64)
    (local $cornerStride i32) (local $cellHeight f64) (local $area f64) (local $sum f64) (local $c i32)
    (local $rowBytes i32)
    (local.set $rowBytes (i32.shl (local.get $stride) (i32.const 3)))
    (local.set $at (local.get $corners))
    (loop $cornerRows
      (local.set $top (i32.load (i32.add (local.get $yi) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $fy (f64.load (i32.add (local.get $yf) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $j (i32.const 0))
      (loop $cornerCols
        (local.set $a (i32.add (local.get $top)
          (i32.shl (i32.load (i32.add (local.get $xi) (i32.shl (local.get $j) (i32.const 2)))) (i32.const 3))))
        (local.set $b (i32.add (local.get $a) (local.get $rowBytes)))
        (local.set $fx (f64.load (i32.add (local.get $xf) (i32.shl (local.get $j) (i32.const 3)))))
        (local.set $s0 (f64.load (local.get $a)))
        (local.set $upper (f64.add (local.get $s0)
          (f64.mul (local.get $fx) (f64.sub (f64.load offset=8 (local.get $a)) (local.get $s0)))))
        (local.set $s0 (f64.load (local.get $b)))
        (local.set $lower (f64.add (local.get $s0)
          (f64.mul (local.get $fx) (f64.sub (f64.load offset=8 (local.get $b)) (local.get $s0)))))
        (f64.store (local.get $at) (f64.add (local.get $upper)
          (f64.mul (local.get $fy) (f64.sub (local.get $lower) (local.get $upper)))))
        (local.set $at (i32.add (local.get $at) (i32.const 8)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $cornerCols (i32.le_u (local.get $j) (local.get $cols))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $cornerRows (i32.le_u (local.get $i) (local.get $rows))))
    (local.set $cornerStride (i32.shl (i32.add (local.get $cols) (i32.const 1)) (i32.const 3)))
    (local.set $at (local.get $out))
    (local.set $i (i32.const 0))
    (loop $cellRows
      (local.set $cellHeight (f64.sub
        (f64.load offset=8 (i32.add (local.get $ys) (i32.shl (local.get $i) (i32.const 3))))
        (f64.load (i32.add (local.get $ys) (i32.shl (local.get $i) (i32.const 3))))))
      (local.set $c (i32.add (local.get $corners) (i32.mul (local.get $i) (local.get $cornerStride))))
      (local.set $j (i32.const 0))
      (loop $cellCols
        (local.set $area (f64.mul
          (f64.sub
            (f64.load offset=8 (i32.add (local.get $xs) (i32.shl (local.get $j) (i32.const 3))))
            (f64.load (i32.add (local.get $xs) (i32.shl (local.get $j) (i32.const 3)))))
          (local.get $cellHeight)))
        ;; ((lower right - lower left) - upper right) + upper left, as the JS adds them.
        (local.set $sum (f64.add
          (f64.sub
            (f64.sub
              (f64.load offset=8 (i32.add (local.get $c) (local.get $cornerStride)))
              (f64.load (i32.add (local.get $c) (local.get $cornerStride))))
            (f64.load offset=8 (local.get $c)))
          (f64.load (local.get $c))))
        (f32.store (local.get $at)
          (select
            (f32.demote_f64 (f64.div (local.get $sum) (local.get $area)))
            (f32.const 0)
            (f64.gt (local.get $area) (f64.const 0))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (local.set $c (i32.add (local.get $c) (i32.const 8)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $cellCols (i32.lt_u (local.get $j) (local.get $cols))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $cellRows (i32.lt_u (local.get $i) (local.get $rows)))))

  ;; The table's value at ($x, $y), bilinear (IntegralImage.at).
  (func $at (param $x f64) (param $y f64) (param $width i32) (param $height i32) (param $stride i32) (result f64)
    (local $x0 f64) (local $y0 f64) (local $fx f64) (local $fy f64) (local $i i32) (local $s0 f64) (local $top f64) (local $bottom f64)
    (local.set $x0 (f64.min (f64.floor (local.get $x)) (f64.convert_i32_s (i32.sub (local.get $width) (i32.const 1)))))
    (local.set $y0 (f64.min (f64.floor (local.get $y)) (f64.convert_i32_s (i32.sub (local.get $height) (i32.const 1)))))
    (local.set $fx (f64.sub (local.get $x) (local.get $x0)))
    (local.set $fy (f64.sub (local.get $y) (local.get $y0)))
    (local.set $i (i32.shl
      (i32.add (i32.mul (i32.trunc_f64_s (local.get $y0)) (local.get $stride)) (i32.trunc_f64_s (local.get $x0)))
      (i32.const 3)))
    (local.set $s0 (f64.load (local.get $i)))
    (local.set $top (f64.add (local.get $s0) (f64.mul (local.get $fx) (f64.sub (f64.load offset=8 (local.get $i)) (local.get $s0)))))
    (local.set $i (i32.add (local.get $i) (i32.shl (local.get $stride) (i32.const 3))))
    (local.set $s0 (f64.load (local.get $i)))
    (local.set $bottom (f64.add (local.get $s0) (f64.mul (local.get $fx) (f64.sub (f64.load offset=8 (local.get $i)) (local.get $s0)))))
    (f64.add (local.get $top) (f64.mul (local.get $fy) (f64.sub (local.get $bottom) (local.get $top)))))

  (func $clamp (param $v f64) (param $hi f64) (result f64)
    (select (f64.const 0)
      (select (local.get $hi) (local.get $v) (f64.gt (local.get $v) (local.get $hi)))
      (f64.lt (local.get $v) (f64.const 0))))

  ;; A 64 x 64 grid of cells $cellW x $cellH whose centres are the grid's
  ;; turned by (cos, sin) = ($c, $s) about ($cx, $cy), each cell the box mean
  ;; of the upright rectangle around its centre (IntegralImage.turnedGridJs).
  (func (export "turnedGrid")
    (param $width i32) (param $height i32) (param $cx f64) (param $cy f64) (param $cellW f64) (param $cellH f64)
    (param $c f64) (param $s f64) (param $out i32)
    (local $i i32) (local $j i32) (local $u f64) (local $v f64) (local $x f64) (local $y f64)
    (local $x0 f64) (local $y0 f64) (local $x1 f64) (local $y1 f64) (local $area f64) (local $w f64) (local $h f64)
    (local $stride i32) (local $mean f64)
    (local.set $stride (i32.add (local.get $width) (i32.const 1)))
    (local.set $w (f64.convert_i32_s (local.get $width)))
    (local.set $h (f64.convert_i32_s (local.get $height)))
    (loop $rows
      (local.set $v (f64.mul (f64.sub (f64.add (f64.convert_i32_s (local.get $i)) (f64.const 0.5)) (f64.const 32)) (local.get $cellH)))
      (local.set $j (i32.const 0))
      (loop $cells
        (local.set $u (f64.mul (f64.sub (f64.add (f64.convert_i32_s (local.get $j)) (f64.const 0.5)) (f64.const 32)) (local.get $cellW)))
        (local.set $x (f64.sub (f64.sub (f64.add (local.get $cx) (f64.mul (local.get $u) (local.get $c))) (f64.mul (local.get $v) (local.get $s)))
          (f64.div (local.get $cellW) (f64.const 2))))
        (local.set $y (f64.sub (f64.add (f64.add (local.get $cy) (f64.mul (local.get $u) (local.get $s))) (f64.mul (local.get $v) (local.get $c)))
          (f64.div (local.get $cellH) (f64.const 2))))
        (local.set $x0 (call $clamp (local.get $x) (local.get $w)))
        (local.set $y0 (call $clamp (local.get $y) (local.get $h)))
        (local.set $x1 (call $clamp (f64.add (local.get $x) (local.get $cellW)) (local.get $w)))
        (local.set $y1 (call $clamp (f64.add (local.get $y) (local.get $cellH)) (local.get $h)))
        (local.set $area (f64.mul (f64.sub (local.get $x1) (local.get $x0)) (f64.sub (local.get $y1) (local.get $y0))))
        (local.set $mean (f64.const 0))
        (if (f64.gt (local.get $area) (f64.const 0))
          (then
            (local.set $mean (f64.div
              (f64.add
                (f64.sub
                  (f64.sub
                    (call $at (local.get $x1) (local.get $y1) (local.get $width) (local.get $height) (local.get $stride))
                    (call $at (local.get $x0) (local.get $y1) (local.get $width) (local.get $height) (local.get $stride)))
                  (call $at (local.get $x1) (local.get $y0) (local.get $width) (local.get $height) (local.get $stride)))
                (call $at (local.get $x0) (local.get $y0) (local.get $width) (local.get $height) (local.get $stride)))
              (local.get $area)))))
        (f32.store (local.get $out) (f32.demote_f64 (local.get $mean)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $cells (i32.lt_u (local.get $j) (i32.const 64))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $rows (i32.lt_u (local.get $i) (i32.const 64))))))

;; Brute-force Hamming range search over 256-bit codes held in this module's
;; memory (the oracle index, brute-force.ts).
;; Regenerate src/index/popcount-scan-wasm.ts with `npx tsx scripts/build-wasm.ts`.
(module
  (memory (export "memory") 1 65536)
  ;; Writes the index (relative to `first`) of every code in [first, first + count)
  ;; within `radius` of the query to `out` as i32s; returns how many it wrote.
  ;; Codes are 32 bytes each at `codes`; the query is 32 bytes at `query`.
  ;; The caller sizes `out` to hold `count` entries.
  (func (export "scan")
    (param $codes i32) (param $first i32) (param $count i32)
    (param $query i32) (param $radius i32) (param $out i32)
    (result i32)
    (local $q0 i64) (local $q1 i64) (local $q2 i64) (local $q3 i64)
    (local $p i32) (local $i i32) (local $hits i32) (local $d i32)
    (local.set $q0 (i64.load offset=0 (local.get $query)))
    (local.set $q1 (i64.load offset=8 (local.get $query)))
    (local.set $q2 (i64.load offset=16 (local.get $query)))
    (local.set $q3 (i64.load offset=24 (local.get $query)))
    (local.set $p (i32.add (local.get $codes) (i32.shl (local.get $first) (i32.const 5))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $d
          (i32.wrap_i64
            (i64.add
              (i64.add
                (i64.popcnt (i64.xor (i64.load offset=0 (local.get $p)) (local.get $q0)))
                (i64.popcnt (i64.xor (i64.load offset=8 (local.get $p)) (local.get $q1))))
              (i64.add
                (i64.popcnt (i64.xor (i64.load offset=16 (local.get $p)) (local.get $q2)))
                (i64.popcnt (i64.xor (i64.load offset=24 (local.get $p)) (local.get $q3)))))))
        (if (i32.le_u (local.get $d) (local.get $radius))
          (then
            (i32.store (i32.add (local.get $out) (i32.shl (local.get $hits) (i32.const 2))) (local.get $i))
            (local.set $hits (i32.add (local.get $hits) (i32.const 1)))))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $hits))
)

;; Hamming range search over one shard of a multi-index hashing index (see
;; multi-index-hashing.ts for the layout): a brute-force scan, and the probe,
;; gather and verify steps of multi-index hashing over tables kept in the same
;; memory as the codes. The memory is shared: every search thread instantiates
;; this module over the same shard memory, each with scratch of its own.
;; Regenerate src/index/shard-search-wasm.ts with `npx tsx scripts/build-wasm.ts`.
(module
  (import "env" "memory" (memory 1 65536 shared))
  ;; Where verify's touch pass puts what it loaded, so the loads are not dropped as dead.
  (global $touchSink (mut i32) (i32.const 0))
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

  ;; Multi-index hashing, step 1 for one table: writes the entry range
  ;; (i32 start, i32 end) of every non-empty bucket whose `bits`-bit key is
  ;; within `radius` of `key` to `ranges`; returns how many. Keys are enumerated
  ;; by number of flipped bits, masks in increasing order (Gosper's hack).
  ;; Bucket k is entries[start(k) .. start(k + 1)) with offsets either plain
  ;; (start(k) at offsets + 4k) or packed: 20 bytes per block of 16 buckets, the
  ;; block's start as an i32 then 16 byte offsets from it, so a probe reads one
  ;; cache line (bucket 15's end is the next block's start). No load here waits
  ;; on another, so the CPU overlaps the probes' cache misses.
  (func (export "probe")
    (param $offsets i32) (param $packed i32)
    (param $key i32) (param $bits i32) (param $radius i32) (param $ranges i32)
    (result i32)
    (local $k i32) (local $mask i32) (local $limit i32) (local $probe i32)
    (local $start i32) (local $end i32) (local $count i32) (local $lowest i32) (local $ripple i32)
    (local $block i32) (local $j i32)
    (local.set $limit (i32.shl (i32.const 1) (local.get $bits)))
    (loop $flips
      (local.set $mask (i32.sub (i32.shl (i32.const 1) (local.get $k)) (i32.const 1)))
      (block $flipsDone
        (loop $masks
          (br_if $flipsDone (i32.ge_u (local.get $mask) (local.get $limit)))
          (local.set $probe (i32.xor (local.get $key) (local.get $mask)))
          (if (local.get $packed)
            (then
              (local.set $block (i32.add (local.get $offsets) (i32.mul (i32.shr_u (local.get $probe) (i32.const 4)) (i32.const 20))))
              (local.set $j (i32.and (local.get $probe) (i32.const 15)))
              (local.set $start (i32.load (local.get $block)))
              (local.set $end
                (if (result i32) (i32.eq (local.get $j) (i32.const 15))
                  (then (i32.load offset=20 (local.get $block)))
                  (else (i32.add (local.get $start) (i32.load8_u offset=5 (i32.add (local.get $block) (local.get $j)))))))
              (local.set $start (i32.add (local.get $start) (i32.load8_u offset=4 (i32.add (local.get $block) (local.get $j))))))
            (else
              (local.set $start (i32.load (i32.add (local.get $offsets) (i32.shl (local.get $probe) (i32.const 2)))))
              (local.set $end (i32.load offset=4 (i32.add (local.get $offsets) (i32.shl (local.get $probe) (i32.const 2)))))))
          (i32.store (i32.add (local.get $ranges) (i32.shl (local.get $count) (i32.const 3))) (local.get $start))
          (i32.store offset=4 (i32.add (local.get $ranges) (i32.shl (local.get $count) (i32.const 3))) (local.get $end))
          (local.set $count (i32.add (local.get $count) (i32.lt_u (local.get $start) (local.get $end))))
          (br_if $flipsDone (i32.eqz (local.get $k)))
          (local.set $lowest (i32.and (local.get $mask) (i32.sub (i32.const 0) (local.get $mask))))
          (local.set $ripple (i32.add (local.get $mask) (local.get $lowest)))
          (local.set $mask
            (i32.or (local.get $ripple)
              (i32.shr_u (i32.shr_u (i32.xor (local.get $ripple) (local.get $mask)) (i32.const 2)) (i32.ctz (local.get $mask)))))
          (br $masks)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $flips (i32.le_u (local.get $k) (local.get $radius))))
    (local.get $count))

  ;; Multi-index hashing, step 2: copies the entries (code slots) of the
  ;; `count` ranges at `ranges` to `cand`, at most `capacity` of them; returns
  ;; how many there are in all, so a caller whose buffer was too small can grow
  ;; it and call again.
  (func (export "gather")
    (param $entries i32) (param $ranges i32) (param $count i32) (param $cand i32) (param $capacity i32)
    (result i32)
    (local $i i32) (local $e i32) (local $end i32) (local $total i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $e (i32.load (i32.add (local.get $ranges) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $end (i32.load offset=4 (i32.add (local.get $ranges) (i32.shl (local.get $i) (i32.const 3)))))
        (block $copied
          (loop $copy
            (br_if $copied (i32.ge_u (local.get $e) (local.get $end)))
            (if (i32.lt_u (local.get $total) (local.get $capacity))
              (then
                (i32.store
                  (i32.add (local.get $cand) (i32.shl (local.get $total) (i32.const 2)))
                  (i32.load (i32.add (local.get $entries) (i32.shl (local.get $e) (i32.const 2)))))))
            (local.set $total (i32.add (local.get $total) (i32.const 1)))
            (local.set $e (i32.add (local.get $e) (i32.const 1)))
            (br $copy)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $total))

  ;; Multi-index hashing, step 3: of the `count` code slots at `cand`, writes
  ;; each whose code (32 bytes at codes + 32 * slot) is within `radius` of the
  ;; query to `out` as an (i32 slot, i32 distance) pair; returns how many.
  ;; The loads of one candidate do not wait on another's, so the CPU overlaps
  ;; their cache misses.
  (func (export "verify")
    (param $codes i32) (param $cand i32) (param $count i32)
    (param $query i32) (param $radius i32) (param $out i32)
    (result i32)
    (local $q0 i64) (local $q1 i64) (local $q2 i64) (local $q3 i64)
    (local $i i32) (local $slot i32) (local $p i32) (local $d i32) (local $hits i32) (local $touched i32)
    ;; A bare pass that loads one word of each candidate first: its few
    ;; instructions per candidate let many cache misses be in flight at once,
    ;; which the longer loop below cannot; that loop then finds codes in cache.
    (block $touchedAll
      (loop $touch
        (br_if $touchedAll (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $touched
          (i32.xor (local.get $touched)
            (i32.load (i32.add (local.get $codes) (i32.shl (i32.load (i32.add (local.get $cand) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 5))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $touch)))
    (global.set $touchSink (local.get $touched))
    (local.set $i (i32.const 0))
    (local.set $q0 (i64.load offset=0 (local.get $query)))
    (local.set $q1 (i64.load offset=8 (local.get $query)))
    (local.set $q2 (i64.load offset=16 (local.get $query)))
    (local.set $q3 (i64.load offset=24 (local.get $query)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $slot (i32.load (i32.add (local.get $cand) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $p (i32.add (local.get $codes) (i32.shl (local.get $slot) (i32.const 5))))
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
            (i32.store (i32.add (local.get $out) (i32.shl (local.get $hits) (i32.const 3))) (local.get $slot))
            (i32.store offset=4 (i32.add (local.get $out) (i32.shl (local.get $hits) (i32.const 3))) (local.get $d))
            (local.set $hits (i32.add (local.get $hits) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $hits)))

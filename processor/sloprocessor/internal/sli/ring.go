// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sli

// pair is the good and total event count of one slot or window.
type pair struct {
	good, total float64
}

func (p *pair) add(q pair) {
	p.good += q.good
	p.total += q.total
}

func (p *pair) sub(q pair) {
	p.good -= q.good
	p.total -= q.total
}

func (p pair) scaled(f float64) pair { return pair{good: p.good * f, total: p.total * f} }

// ring is a fixed number of time slots of equal width with running sums over
// windows that end at the newest slot (head).
//
// Slot x covers the time range (x*res, (x+1)*res]: closed at its end, like a
// window (T-w, T], so that at a slot boundary T the slots ending at T hold
// exactly the window. A window of k slots read at T covers the k slots ending
// with the slot of T plus, when T is inside a slot, the part of slot
// slotOf(T)-k that lies after T-w, weighted by that part's share of the slot
// (see at).
type ring struct {
	res   int64 // slot width in nanoseconds
	slots []pair
	head  int64 // absolute index of the newest slot
	init  bool
	lens  []int64 // window lengths in slots; len(slots) exceeds each by the future margin
	sums  []pair  // running sum per window over (head-k, head]
	// from, when fromSet, starts an extra window at an absolute slot index
	// (calendar budget windows): it covers slots [from, head].
	from    int64
	fromSet bool
	fromSum pair
	// Timeslices rings (target > 0) also mark each slot bad when its
	// good/total is under target, and count the bad slots of every window
	// as they count events (timeslices.go).
	target  float64
	marks   []uint8
	bad     []int64 // per window over (head-k, head]
	fromBad int64
}

func newRing(res int64, size int64, lens []int64) ring {
	return ring{res: res, slots: make([]pair, size), lens: lens, sums: make([]pair, len(lens))}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// slotOf returns the slot holding time t: the one with x*res < t <= (x+1)*res.
func (r *ring) slotOf(t int64) int64 { return floorDiv(t-1, r.res) }

func (r *ring) idx(x int64) int {
	n := int64(len(r.slots))
	m := x % n
	if m < 0 {
		m += n
	}
	return int(m)
}

// oldest returns the absolute index of the oldest slot still held.
func (r *ring) oldest() int64 { return r.head - int64(len(r.slots)) + 1 }

// slot returns slot x, empty when the ring does not hold it.
func (r *ring) slot(x int64) pair {
	if x < r.oldest() || x > r.head {
		return pair{}
	}
	return r.slots[r.idx(x)]
}

// advance moves the head forward to slot h, dropping the slots that leave the
// ring and the windows.
func (r *ring) advance(h int64) {
	if !r.init {
		r.head, r.init = h, true
		return
	}
	if h <= r.head {
		return
	}
	n := int64(len(r.slots))
	if d := h - r.head; d >= n || d < 0 { // d < 0: the distance overflowed
		clear(r.slots)
		clear(r.sums)
		clear(r.marks)
		clear(r.bad)
		r.head = h
		r.fromSum, r.fromBad = pair{}, 0
		return
	}
	rotated := false
	for x := r.head + 1; x <= h; x++ {
		for i, k := range r.lens {
			r.sums[i].sub(r.slots[r.idx(x-k)])
		}
		if r.fromSet && x-n >= r.from {
			r.fromSum.sub(r.slots[r.idx(x)])
		}
		r.slots[r.idx(x)] = pair{}
		if r.marks != nil {
			for i, k := range r.lens {
				r.bad[i] -= int64(r.marks[r.idx(x-k)])
			}
			if r.fromSet && x-n >= r.from {
				r.fromBad -= int64(r.marks[r.idx(x)])
			}
			r.marks[r.idx(x)] = 0
		}
		if r.idx(x) == 0 {
			rotated = true
		}
	}
	r.head = h
	if rotated {
		// Once per rotation, recompute the running sums from the slots so
		// that rounding of fractional counts cannot accumulate.
		r.resync()
	}
}

// add places p into slot s. It reports false when s is older than the ring.
func (r *ring) add(s int64, p pair) bool {
	if !r.init || s > r.head {
		r.advance(s)
	}
	if s < r.oldest() {
		return false
	}
	r.slots[r.idx(s)].add(p)
	for i, k := range r.lens {
		if s > r.head-k {
			r.sums[i].add(p)
		}
	}
	if r.fromSet && s >= r.from {
		r.fromSum.add(p)
	}
	if r.marks != nil {
		r.remark(s)
	}
	return true
}

// sumRange returns the sum of the slots [from, to] held by the ring.
func (r *ring) sumRange(from, to int64) pair {
	var p pair
	for x := max(from, r.oldest()); x <= min(to, r.head); x++ {
		p.add(r.slots[r.idx(x)])
	}
	return p
}

// at returns window i's events in (now-k*res, now]. The running sum covers
// the k slots ending at the head; points ahead of the clock (within the
// allowed skew) may have moved the head past slotOf(now), so the slots after
// it are taken out and the ones before the head's window put back. Inside a
// slot, the oldest slot is weighted by its share inside the window: exact at
// slot boundaries, and off by at most that slot's events inside.
func (r *ring) at(i int, now int64) pair {
	k := r.lens[i]
	c := r.slotOf(now)
	p := r.sums[i]
	out, in := r.pastClock(c, k)
	p.sub(r.sumRange(out[0], out[1]))
	p.add(r.sumRange(in[0], in[1]))
	return r.withEdge(p, c, k, now)
}

// pastClock returns what a running sum over the k slots ending at the head
// holds beyond the k slots ending with slot c (out) and lacks of them (in),
// as ranges [from, to]: points ahead of the clock (within the allowed skew)
// may have moved the head past c. Both are empty when c is the head.
func (r *ring) pastClock(c, k int64) (out, in [2]int64) {
	if c >= r.head {
		return [2]int64{1, 0}, [2]int64{1, 0}
	}
	return [2]int64{max(c+1, r.head-k+1), r.head}, [2]int64{c - k + 1, min(r.head-k, c)}
}

// fromAt returns the calendar window's events in (from*res, now].
func (r *ring) fromAt(now int64) pair {
	c := r.slotOf(now)
	p := r.fromSum
	if c < r.head {
		p.sub(r.sumRange(max(c+1, r.from), r.head))
	}
	return p
}

// withEdge adds to p, the sum of the k slots ending with slot c = slotOf(now),
// the part of slot c-k after now - k*res. That part is as long as what is
// left of slot c after now: (c+1)*res - now.
func (r *ring) withEdge(p pair, c, k, now int64) pair {
	inside := (c+1)*r.res - now
	if inside <= 0 {
		return p // a slot boundary: whole slots are exact
	}
	p.add(r.slot(c - k).scaled(float64(inside) / float64(r.res)))
	return p
}

// setFrom moves the start of the calendar window.
func (r *ring) setFrom(from int64) {
	if r.fromSet && r.from == from {
		return
	}
	r.from, r.fromSet = from, true
	r.fromSum = r.sumRange(from, r.head)
	if r.marks != nil {
		r.fromBad = r.badRange(from, r.head)
	}
}

func (r *ring) resync() {
	for i, k := range r.lens {
		r.sums[i] = r.sumRange(r.head-k+1, r.head)
	}
	if r.fromSet {
		r.fromSum = r.sumRange(r.from, r.head)
	}
	if r.marks != nil {
		for j, p := range r.slots {
			r.marks[j] = r.mark(p)
		}
		for i, k := range r.lens {
			r.bad[i] = r.badRange(r.head-k+1, r.head)
		}
		if r.fromSet {
			r.fromBad = r.badRange(r.from, r.head)
		}
	}
}

// edgeEmpty reports whether every slot that a window may weight in part
// (the one just before each window) is empty.
func (r *ring) edgeEmpty() bool {
	for _, k := range r.lens {
		for x := r.head - k - r.margin(); x <= r.head-k; x++ {
			if r.slot(x).total > eventsEpsilon {
				return false
			}
		}
	}
	return true
}

// margin is how many slots the ring holds beyond its longest window.
func (r *ring) margin() int64 {
	var longest int64
	for _, k := range r.lens {
		longest = max(longest, k)
	}
	return int64(len(r.slots)) - longest - 1
}

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

// ring is a fixed number of time slots of equal width with running sums over
// windows that end at the newest slot (head). Slot x covers the time range
// [x*res, (x+1)*res). A window of k slots covers slots (head-k, head].
type ring struct {
	res   int64 // slot width in nanoseconds
	slots []pair
	head  int64 // absolute index of the newest slot
	init  bool
	lens  []int64 // window lengths in slots, each <= len(slots)
	sums  []pair  // running sum per window
	// from, when fromSet, starts an extra window at an absolute slot index
	// (calendar budget windows): it covers slots [from, head].
	from    int64
	fromSet bool
	fromSum pair
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

func (r *ring) slotOf(t int64) int64 { return floorDiv(t, r.res) }

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
		r.head = h
		if r.fromSet {
			r.fromSum = pair{}
		}
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
// The caller advances the ring first when s is newer than the head.
func (r *ring) add(s int64, p pair) bool {
	if !r.init {
		r.advance(s)
	}
	if s > r.head {
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
	return true
}

// sumFrom returns the sum of slots [from, head] held by the ring.
func (r *ring) sumFrom(from int64) pair {
	var p pair
	start := max(from, r.oldest())
	for x := start; x <= r.head; x++ {
		p.add(r.slots[r.idx(x)])
	}
	return p
}

// setFrom moves the start of the calendar window.
func (r *ring) setFrom(from int64) {
	if r.fromSet && r.from == from {
		return
	}
	r.from, r.fromSet = from, true
	r.fromSum = r.sumFrom(from)
}

func (r *ring) resync() {
	for i, k := range r.lens {
		r.sums[i] = r.sumFrom(r.head - k + 1)
	}
	if r.fromSet {
		r.fromSum = r.sumFrom(r.from)
	}
}

package synth

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// claimEvent is a status a claim takes on a date.
type claimEvent struct {
	date   time.Time
	status string // Pending, Denied, Approved, Paid
}

// charge is one transaction with its encounter and its claim's whole life.
type charge struct {
	month, index                 int
	txnID, encID, claimID        string
	patientID, providerID, dept  string
	cpt                          cpt
	icd                          string
	payer                        payer
	encounterType, visitType     string
	service, inserted, claimDate time.Time
	amount, allowed, paid        float64
	deductible, copay, coins     float64
	paidDate                     time.Time // zero if never paid
	events                       []claimEvent
	denialReason                 string
	voidedMonth                  int // month the EMR deletes the charge (not its encounter); -1 never
	defect                       string
	serviceText                  string // ServiceDate as written (a planted defect may make it unparseable)
}

// padded is n in decimal, zero-padded to width digits: fmt's %0*d without its cost.
func padded(n, width int) string {
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], int64(n), 10)
	if len(b) >= width {
		return string(b)
	}
	return strings.Repeat("0", width-len(b)) + string(b)
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

func pickPayer(u float64) payer {
	acc := 0.0
	for _, p := range payers {
		acc += p.share
		if u < acc {
			return p
		}
	}
	return payers[len(payers)-1]
}

// chargeAt derives charge k of month m of a hospital.
func chargeAt(o Options, h Hospital, s sizes, m, k int) charge {
	r := rng(o.Seed, "charge", h.Index, m, k)
	seq := m*s.chargesPerMonth + k + 1
	num := padded(seq, 8)
	c := charge{month: m, index: k, txnID: "TRANS" + num, encID: "ENC" + num, claimID: "CLAIM" + num, voidedMonth: -1}
	pi := r.IntN(s.patientsBy(m))
	for !billable(o, h, pi) {
		pi = (pi + 1) % s.patientsBy(m)
	}
	c.patientID = patientID(pi)
	pv := r.IntN(s.providers)
	c.providerID = providerID(h, pv)[len(h.ProvPrefix):] // the EMR's transactions omit the prefix, as the seed's do
	c.dept = deptID(providerDept(o, h, pv))
	if r.IntN(20) == 0 {
		c.dept = deptID(r.IntN(len(departments)))
	}
	c.cpt = cptCodes[r.IntN(len(cptCodes))]
	c.icd = icdCodes[r.IntN(len(icdCodes))]
	c.payer = pickPayer(r.Float64())
	c.encounterType = encounterTypes[r.IntN(len(encounterTypes))]
	c.visitType = visitTypes[r.IntN(len(visitTypes))]
	c.service = o.monthStart(m).AddDate(0, 0, r.IntN(daysIn(o.monthStart(m))))
	c.serviceText = ymd(c.service)
	lag := r.IntN(3)
	if r.IntN(10) == 0 {
		lag = 5 + r.IntN(10)
	}
	c.inserted = c.service.AddDate(0, 0, lag)
	// The EMR's snapshot at the end of month m holds the charge, so it was entered by then: a
	// row dated after the snapshot would slip under the next incremental load's watermark.
	if last := o.monthStart(m+1).AddDate(0, 0, -1); c.inserted.After(last) {
		c.inserted = last
	}
	c.amount = round2(c.cpt.charge * (0.9 + 0.3*r.Float64()))
	c.allowed = round2(c.amount * c.payer.allowedRate * (0.95 + 0.1*r.Float64()))

	switch d := r.IntN(500); {
	case d == 0:
		c.defect, c.amount = "negative_amount", -c.amount
	case d == 1:
		c.defect, c.patientID = "orphan_fk", "HOSP1-999999"
	case d == 2:
		c.defect = "duplicate_key"
	case d == 3:
		c.defect, c.serviceText = "unparseable_date", fmt.Sprintf("%d-02-30", c.service.Year())
	}
	if c.defect != "" {
		return c // defective charges are frozen: no claim, never paid
	}

	claimLag := r.IntN(4)
	if r.IntN(20) == 0 {
		claimLag = 10 + r.IntN(20)
	}
	c.claimDate = c.inserted.AddDate(0, 0, claimLag)
	c.events = []claimEvent{{c.claimDate, "Pending"}}
	adjudicated := c.claimDate.AddDate(0, 0, max(3, c.payer.lagDays+r.IntN(2*c.payer.lagJitter+1)-c.payer.lagJitter))
	if r.IntN(100) < 3 { // stuck in review: stays open past 90 days
		adjudicated = adjudicated.AddDate(0, 0, 60+r.IntN(90))
	}
	// Patient responsibility from deductible, copay and coinsurance.
	c.deductible = round2(math.Min(c.allowed, c.payer.deductible*r.Float64()))
	c.copay = math.Min(c.payer.copay, c.allowed-c.deductible)
	c.coins = round2((c.allowed - c.deductible - c.copay) * c.payer.coinsurance)
	payerPays := round2(c.allowed - c.deductible - c.copay - c.coins)
	if c.payer.kind == "Self-pay" {
		payerPays = c.allowed // the patient is the payer
		if r.IntN(2) == 0 {
			return c // never collected: stays in A/R
		}
	}
	pay := func(day time.Time) {
		c.paidDate = day.AddDate(0, 0, 2+r.IntN(6))
		c.events = append(c.events, claimEvent{day, "Approved"}, claimEvent{c.paidDate, "Paid"})
		c.paid = payerPays
	}
	if r.Float64() < c.payer.denial {
		c.denialReason = denialReasons[r.IntN(len(denialReasons))]
		c.events = append(c.events, claimEvent{adjudicated, "Denied"})
		if r.IntN(100) < 45 { // appealed and overturned
			pay(adjudicated.AddDate(0, 0, 25+r.IntN(35)))
		}
	} else {
		pay(adjudicated)
	}
	if r.IntN(500) == 0 {
		c.voidedMonth = m + 1 + r.IntN(2)
	}
	return c
}

func daysIn(monthStart time.Time) int { return monthStart.AddDate(0, 1, -1).Day() }

// stateAt is the claim's last event on or before t, and whether it has one.
func (c charge) stateAt(t time.Time) (claimEvent, bool) {
	var last claimEvent
	ok := false
	for _, e := range c.events {
		if !e.date.After(t) {
			last, ok = e, true
		}
	}
	return last, ok
}

// eventIn reports whether the claim has an event in [from, to).
func (c charge) eventIn(from, to time.Time) bool {
	for _, e := range c.events {
		if !e.date.Before(from) && e.date.Before(to) {
			return true
		}
	}
	return false
}

// paidBy reports whether the charge was paid by time t.
func (c charge) paidBy(t time.Time) bool { return !c.paidDate.IsZero() && !c.paidDate.After(t) }

// activity has bit i set when something happens to the charge in month c.month+i: a claim
// event (which puts it in that month's claims file), its payment or its void. Defective
// charges are frozen, so nothing ever happens to them after their first month.
func (c charge) activity(o Options) uint16 {
	if c.defect != "" {
		return 0
	}
	var a uint16
	set := func(month int) {
		if off := month - c.month; off >= 0 && off < 16 {
			a |= 1 << off
		}
	}
	if c.voidedMonth >= 0 {
		set(c.voidedMonth)
	}
	if !c.paidDate.IsZero() {
		set(o.monthOf(c.paidDate))
	}
	for _, e := range c.events {
		set(o.monthOf(e.date))
	}
	return a
}

// modifiedAt is the EMR row's ModifiedDate at time t.
func (c charge) modifiedAt(t time.Time) time.Time {
	if c.paidBy(t) {
		return c.paidDate
	}
	return c.inserted
}

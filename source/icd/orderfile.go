package icd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The CMS/NCHS ICD-10-CM order file (icd10cm-order-YYYY.txt) is fixed width, one code a line:
//
//	cols 1-5   order number, zero filled
//	col  7-13  code, no dot, left aligned
//	col  15    0 = header (not valid for billing), 1 = valid for HIPAA-covered transactions
//	col  17-76 short description (60)
//	col  78-   long description (up to 323)
//
// Lines end in CRLF in the published files; both endings are read.

const (
	orderMaxLine = 400
	shortEnd     = 76 // end of the short description (1-based column 76)
)

// ParseOrderLine reads one line of the order file. parent is not set (it needs the lines before).
func ParseOrderLine(line string) (Code, error) {
	line = strings.TrimRight(line, "\r\n")
	if len(line) > orderMaxLine {
		return Code{}, fmt.Errorf("line of %d characters, the layout allows %d", len(line), orderMaxLine)
	}
	if len(line) < 17 {
		return Code{}, fmt.Errorf("line of %d characters is too short for the order-file layout (order, code, flag, description)", len(line))
	}
	if line[5] != ' ' || line[13] != ' ' || line[15] != ' ' {
		return Code{}, fmt.Errorf("columns 6, 14 and 16 must be blank: is this the fixed-width order file (icd10cm-order-YYYY.txt)?")
	}
	order, err := strconv.ParseInt(line[0:5], 10, 64)
	if err != nil || order <= 0 {
		return Code{}, fmt.Errorf("order number %q in columns 1-5 is not a positive number", line[0:5])
	}
	raw := strings.TrimRight(line[6:13], " ")
	if raw == "" || !isCode(raw) {
		return Code{}, fmt.Errorf("code %q in columns 7-13 is not an ICD-10-CM code", line[6:13])
	}
	var billable bool
	switch line[14] {
	case '0':
	case '1':
		billable = true
	default:
		return Code{}, fmt.Errorf("flag %q in column 15: want 0 (header) or 1 (billable)", line[14])
	}
	short := strings.TrimSpace(oneLine.Replace(line[16:min(len(line), shortEnd)]))
	long := ""
	if len(line) > shortEnd+1 {
		long = strings.TrimSpace(oneLine.Replace(line[shortEnd+1:]))
	}
	if long == "" {
		long = short
	}
	if short == "" {
		return Code{}, fmt.Errorf("code %s has no description", raw)
	}
	kind := "header"
	if billable {
		kind = "billable"
	}
	return Code{System: ICD10CM, Code: Dotted(raw), Title: long, ShortTitle: short, Billable: boolPtr(billable),
		Kind: kind, Order: order, Source: FromCMS}, nil
}

// isCode: an ICD-10-CM code without a dot is a letter then 2 to 6 letters or digits.
func isCode(s string) bool {
	if len(s) < 3 || len(s) > 7 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// OrderOptions tune ReadOrderFile.
type OrderOptions struct {
	Release string // the fiscal year, e.g. "2026", stored on each code
	// Reject receives an unreadable line with its number and the reason; returning nil skips
	// it. A nil Reject makes the first bad line an error.
	Reject func(line int, reason string) error
}

// OrderStats counts what ReadOrderFile did.
type OrderStats struct {
	Codes    int
	Billable int
	Rejected int
}

// ReadOrderFile streams the order file from r and calls emit for each code, in file order, with
// Parent set to the nearest earlier header whose code prefixes it (E11.65 -> E11.6 -> E11).
// name is the file name, for error messages.
func ReadOrderFile(ctx context.Context, name string, r io.Reader, o OrderOptions, emit func(Code) error) (OrderStats, error) {
	var st OrderStats
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	var stack []string // codes (no dot) of the open headers, outermost first
	for n := 1; sc.Scan(); n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		c, err := ParseOrderLine(line)
		if err != nil {
			if o.Reject == nil {
				return st, fmt.Errorf("ICD-10-CM order file %s line %d: %w", name, n, err)
			}
			st.Rejected++
			if err := o.Reject(n, err.Error()); err != nil {
				return st, err
			}
			continue
		}
		nd := NoDot(c.Code)
		for len(stack) > 0 && !strings.HasPrefix(nd, stack[len(stack)-1]) {
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1] != nd {
			c.Parent = Dotted(stack[len(stack)-1])
		}
		stack = append(stack, nd)
		c.Release = o.Release
		if err := emit(c); err != nil {
			return st, err
		}
		st.Codes++
		if *c.Billable {
			st.Billable++
		}
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("ICD-10-CM order file %s: %w", name, err)
	}
	return st, nil
}

// WriteOrderFile writes codes in the order-file layout, CRLF line ends, so that the demo has a
// small offline ICD-10-CM file that ReadOrderFile (and any tool made for the real file) reads.
// Codes without an order number are numbered after the previous one; Billable nil is written
// as a header (0).
func WriteOrderFile(w io.Writer, codes []Code) error {
	bw := bufio.NewWriter(w)
	var order int64
	for _, c := range codes {
		nd := NoDot(c.Code)
		if !isCode(nd) {
			return fmt.Errorf("order file: %q is not an ICD-10-CM code", c.Code)
		}
		if c.Order > 0 {
			order = c.Order
		} else {
			order++
		}
		if order > 99999 {
			return fmt.Errorf("order file: order number %d does not fit 5 digits", order)
		}
		flag := '0'
		if c.Billable != nil && *c.Billable {
			flag = '1'
		}
		short := c.ShortTitle
		if short == "" {
			short = c.Title
		}
		short = clip(short, 60)
		long := clip(c.Title, orderMaxLine-shortEnd-1)
		if long == "" {
			long = short
		}
		if short == "" {
			return fmt.Errorf("order file: code %s has no title", c.Code)
		}
		// pad by bytes, not runes (fmt's width counts runes): the layout is byte columns
		fmt.Fprintf(bw, "%05d %-7s %c %s%s %s\r\n", order, nd, flag, short, strings.Repeat(" ", 60-len(short)), long)
	}
	return bw.Flush()
}

// oneLine works byte by byte, so that bytes of another encoding pass through unchanged.
var oneLine = strings.NewReplacer("\r", " ", "\n", " ", "\t", " ")

// clip cuts s to n bytes without splitting a UTF-8 sequence; titles are one line.
func clip(s string, n int) string {
	s = strings.TrimSpace(oneLine.Replace(s))
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return strings.TrimSpace(s[:n])
}

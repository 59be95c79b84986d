package quality

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints a scorecard for a terminal: one line per source and
// dataset with its counts and indicators, the total, then the top
// rejection reasons.
func WriteTable(w io.Writer, sc Scorecard) error {
	fmt.Fprintf(w, "Data quality %s … %s\n\n", sc.From, sc.To)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SOURCE\tDATASET\tRECEIVED\tVALID\tVERIFIED\tMISMATCH\tNOT FOUND\tINVALID ID\tDECEASED\tDUPL.\tCORRECT\tSUFFICIENT\tCLEAN\tALIVE\tLAST CHANGE\t")
	row := func(c DatasetCard, source, dataset string) {
		last := "-"
		if c.LastSeen != nil {
			last = c.LastSeen.UTC().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", source, dataset, c.Received, c.Valid, c.Verified,
			c.Mismatch, c.NotFound, c.InvalidID, c.Deceased+c.DeceasedActive, c.Duplicates, pct(c.Indicators.Correct), pct(c.Indicators.Sufficient),
			pct(c.Indicators.Clean), pct(c.Indicators.Alive), last)
	}
	for _, c := range sc.Datasets {
		row(c, c.Source, c.Dataset)
	}
	row(sc.Total, "total", "")
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(sc.Reasons) > 0 {
		fmt.Fprintln(w, "\nTop rejection reasons")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "COUNT\tSOURCE\tDATASET\tKIND\tPATH\tEXAMPLE")
		for _, r := range sc.Reasons {
			ex := strings.ReplaceAll(r.Example, "\n", " ")
			if len(ex) > 80 {
				ex = ex[:77] + "..."
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Count, r.Source, r.Dataset, r.Kind, r.Path, ex)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func pct(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", *v*100)
}

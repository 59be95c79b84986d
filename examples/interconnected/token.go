package interconnected

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// IssueToken asks the bus for an API token of agency, with the operator
// token (what an operator does once per agency; the agency keeps the secret).
func IssueToken(ctx context.Context, apiURL, operatorToken, agency string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+"/v1/operator/agencies/"+agency+"/tokens", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("issue a token for %s: %w", agency, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("issue a token for %s: %s: %s", agency, resp.Status, body)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("issue a token for %s: unreadable answer %q", agency, body)
	}
	return out.Token, nil
}

package loadtest

import (
	"context"
	"errors"
	"fmt"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

// BenchClientID is the client Prepare registers.
const BenchClientID = "kycvs-bench"

// DefaultRedirectURI is the bench client's redirect URI. Nothing needs to
// listen there (port 9 is "discard"): a flow stops at the redirect to it.
const DefaultRedirectURI = "http://127.0.0.1:9/callback"

// Prepared is what Prepare registered: the client's credentials and the
// virtual users' people.
type Prepared struct {
	ClientID     string
	ClientSecret string
	RedirectURI  string
	Users        []User
}

// Prepare readies a database for a load run with users virtual users: it
// registers the confidential client BenchClientID (or, when it exists,
// sets its redirect URI and ID token algorithm, enables it and gives it a
// new secret) and writes BenchUsers(users) to the registry, each fully
// vaccinated, replacing earlier bench records of the same IDs and leaving
// everyone else alone. secret must be the server's --secret, which keys the
// client secret's hash. idTokenAlg is "" (the server's default, RS256) or
// one of oauth.SupportedAlgs.
//
// It writes to the database the server uses; never point it at a real
// deployment's: the made-up people would become verifiable.
func Prepare(ctx context.Context, st *store.Store, secret []byte, users int, redirectURI, idTokenAlg string) (*Prepared, error) {
	if users < 1 || users > MaxUsers {
		return nil, fmt.Errorf("loadtest: virtual users: 1 to %d", MaxUsers)
	}
	if redirectURI == "" {
		redirectURI = DefaultRedirectURI
	}
	if _, err := checkLoopbackURL("redirect URI", redirectURI); err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	clients := oauth.NewClients(st, secret)
	spec := oauth.ClientSpec{
		ID:                       BenchClientID,
		Name:                     "kycvs bench",
		RedirectURIs:             []string{redirectURI},
		IDTokenSignedResponseAlg: idTokenAlg,
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	_, clientSecret, err := clients.Create(ctx, spec)
	if errors.Is(err, store.ErrAlreadyExists) {
		_, err = st.UpdateClient(ctx, BenchClientID, func(c *store.Client) error {
			c.RedirectURIs = store.StringList{redirectURI}
			c.Scopes = store.StringList(oauth.DefaultScopes)
			c.IDTokenSignedResponseAlg = idTokenAlg
			c.Public = false
			c.TokenEndpointAuthMethod = ""
			c.Disabled = false
			return nil
		})
		if err == nil {
			clientSecret, err = clients.RotateSecret(ctx, BenchClientID)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("loadtest: register the bench client: %w", err)
	}

	people := BenchUsers(users)
	records := make([]store.Beneficiary, len(people))
	for i, u := range people {
		id := fmt.Sprintf("bench-%05d", i+1)
		records[i] = store.Beneficiary{
			ID: id, Mobile: u.Mobile, Name: u.Name, NameKey: claims.NameKey(u.Name), YearOfBirth: 1990,
			Doses: []store.Dose{
				{BeneficiaryID: id, Vaccine: "Covishield", DoseNumber: 1, TotalDoses: 2, DoseDate: "2021-06-01"},
				{BeneficiaryID: id, Vaccine: "Covishield", DoseNumber: 2, TotalDoses: 2, DoseDate: "2021-09-01"},
			},
		}
	}
	if _, err := st.ReplaceBeneficiaries(ctx, records); err != nil {
		return nil, fmt.Errorf("loadtest: write the bench registry: %w", err)
	}
	return &Prepared{ClientID: BenchClientID, ClientSecret: clientSecret, RedirectURI: redirectURI, Users: people}, nil
}

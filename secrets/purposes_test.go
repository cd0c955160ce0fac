package secrets

import (
	"encoding/hex"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"
)

// golden pins every purpose's key for a fixed secret. The values
// were computed outside Go (openssl dgst -sha256 -hmac SECRET of the label),
// so a change to a label or to Derive fails here before it silently resets
// every sub, stored hash or counter of a running deployment.
var golden = map[Purpose]string{
	SigningKeyEncryption: "f4471404a38a650da513a41fe196d2c231608eeaa0d9f70e9d0585807b170b33",
	ClientSecretHash:     "f75e77ba5faa9550fb6f33e8d8c8f17a531d48755a377b8853e2a4891383d294",
	TokenHMAC:            "738026280b4f13677bf3c961cd24254530613f95897c2520802a5cea9aabb7e1",
	DPoPNonce:            "86990fedfac062c9c1792780825f01f9f3d1aa4433a16a058ed0b41bf28804fa",
	PairwiseSubject:      "05f9fbabaaf02e4df14d9cf6e4e63953b5b7adeb5fe15da48e3bb24c2a24dfc4",
	APIKeyHash:           "05726d0ca9d63e241f833d7d8ce8ad329108071bcaa36394d471d3faf3ebd840",
	OTPHash:              "adca1179947a4225ea79ea806e060460feb66d655832d68cde4e652f0695d0b3",
	MobileLimit:          "d3488f237c393e1835537c66f18cb7e7c1cc29cf375840e5b8603deab44802b4",
	LogTag:               "9e1f4fb82ebba1962961ae1de3fb43c3386da1bd0f721be27d6f73df5699e257",
	AdminKey:             "401db3e9bab17687670f81d845ab562f3237e5da1599badaee3f964196c197d7",
	AdminCursor:          "0c5474036b5b764ba1bef88b9cbbe6f3c4b8ef1e52ee30de7d40299339ddc86f",
	SessionID:            "c45c1d8d4b75db01d9ec3280f0f6555ba0ab29dc8023a167c08554824b9bd8e1",
	RegistrationToken:    "09e76544f48ed81b23837a2cef9337a15774e96e11cd892387c78badce671a3a",
	CSRF:                 "a932136cf2f709b9191f311782e278989cfbd776075360323d9913a1434b141b",
	AdminReveal:          "962b6b4f747e3a7d11c72c7c39b8bdedb5362c3adaa75b8cac5213c7b7469611",
	AdminTOTP:            "44b7ffae4c8ac1ba9e4f055ebb0cc78b146ae9e3da8f0add109543cac8e04512",
}

func TestDeriveGolden(t *testing.T) {
	secret := []byte("golden-test-server-secret-0123456789abcdef")
	seen := map[string]Purpose{}
	for p, want := range golden {
		got := hex.EncodeToString(Derive(secret, p))
		if got != want {
			t.Errorf("Derive(%q) = %s, want %s", p, got, want)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%q and %q derive the same key", p, other)
		}
		seen[got] = p
	}
}

// TestEveryPurposeIsPinned fails when a purpose is added to the table
// without a golden value above.
func TestEveryPurposeIsPinned(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "purposes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok || vs.Type == nil || vs.Type.(*ast.Ident).Name != "Purpose" {
			return true
		}
		for _, v := range vs.Values {
			label, _ := strconv.Unquote(v.(*ast.BasicLit).Value)
			n++
			if golden[Purpose(label)] == "" {
				t.Errorf("purpose %q has no golden value", label)
			}
		}
		return true
	})
	if n != len(golden) {
		t.Errorf("purposes.go declares %d purposes, the golden test pins %d", n, len(golden))
	}
}

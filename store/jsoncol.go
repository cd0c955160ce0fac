package store

import (
	"encoding/json"
	"fmt"
)

// scanJSON is the sql.Scanner behind every JSON-in-a-text-column type: a
// NULL leaves dst at its zero value; text or bytes are unmarshalled.
func scanJSON[T any](src any, dst *T) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		var zero T
		*dst = zero
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("store: cannot scan %T into %T", src, dst)
	}
	return json.Unmarshal(b, dst)
}

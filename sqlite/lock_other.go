//go:build !unix

package sqlite

import (
	"fmt"
	"os"
)

// lockFile: no advisory locks here; WithExclusive is refused, a shared open
// goes unlocked.
func lockFile(path string, exclusive bool) (*os.File, error) {
	if !exclusive {
		return nil, nil
	}
	return nil, fmt.Errorf("sqlite: exclusive open of %s is not supported on this system", path)
}

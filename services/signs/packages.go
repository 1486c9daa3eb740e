//go:build linux

package signs

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// packages answers which installed package owns a file, and the MD5 the
// package recorded for it, from dpkg's database read directly
// (/var/lib/dpkg/info/*.list and *.md5sums). It reads the database again
// when dpkg changes it.
type packages struct {
	info   string // …/var/lib/dpkg/info
	stamp  time.Time
	owners map[string]string            // path → package (as its .list file is named)
	sums   map[string]map[string]string // package → path without the leading "/" → MD5
	hashes map[fileKey]string
}

type fileKey struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

func newPackages(root string) *packages {
	return &packages{info: filepath.Join(root, "var/lib/dpkg/info"), hashes: map[fileKey]string{}}
}

// errNoDatabase says why unpackaged and modified binaries cannot be told.
var errNoDatabase = errors.New("no dpkg database (/var/lib/dpkg) was found, and rpm's is not read: whether binaries are packaged is not known")

// owner returns the package that owns exe and the MD5 it recorded ("" when
// it recorded none); pkg is "" when no package owns it.
func (p *packages) owner(exe string) (pkg, sum string, err error) {
	if err := p.load(); err != nil {
		return "", "", err
	}
	for _, alias := range aliases(exe) {
		if pkg = p.owners[alias]; pkg != "" {
			return pkg, p.sum(pkg, alias), nil
		}
	}
	return "", "", nil
}

// load indexes the .list files, again when the directory changed.
func (p *packages) load() error {
	fi, err := os.Stat(p.info)
	if err != nil {
		if os.IsNotExist(err) {
			return errNoDatabase
		}
		return err
	}
	if p.owners != nil && fi.ModTime().Equal(p.stamp) {
		return nil
	}
	lists, err := filepath.Glob(filepath.Join(p.info, "*.list"))
	if err != nil {
		return err
	}
	owners := make(map[string]string, 1<<17)
	for _, l := range lists {
		pkg := strings.TrimSuffix(filepath.Base(l), ".list")
		f, err := os.Open(l)
		if err != nil {
			continue // one unreadable list: its files read as unowned; the warning below says so
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			owners[sc.Text()] = pkg
		}
		f.Close()
	}
	p.owners, p.sums, p.stamp = owners, map[string]map[string]string{}, fi.ModTime()
	return nil
}

// sum is the MD5 package pkg recorded for path.
func (p *packages) sum(pkg, path string) string {
	sums, ok := p.sums[pkg]
	if !ok {
		sums = map[string]string{}
		if f, err := os.Open(filepath.Join(p.info, pkg+".md5sums")); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if hash, file, ok := strings.Cut(sc.Text(), "  "); ok {
					sums[file] = hash
				}
			}
			f.Close()
		}
		p.sums[pkg] = sums
	}
	return sums[strings.TrimPrefix(path, "/")]
}

// md5 hashes the file a process runs (procExe: /proc/PID/exe, which opens
// the very file, whatever the path now names), once per file.
func (p *packages) md5(procExe, exe string) (string, error) {
	f, err := os.Open(procExe)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	var k fileKey
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k = fileKey{dev: uint64(st.Dev), ino: st.Ino, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
		if h, ok := p.hashes[k]; ok {
			return h, nil
		}
	}
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	p.hashes[k] = sum
	return sum, nil
}

// aliases are the paths a file has under Debian's merged /usr: dpkg may
// list /bin/bash for what runs as /usr/bin/bash.
func aliases(path string) []string {
	out := []string{path}
	for _, pair := range [][2]string{{"/usr/bin/", "/bin/"}, {"/usr/sbin/", "/sbin/"}, {"/usr/lib/", "/lib/"}, {"/usr/lib64/", "/lib64/"}} {
		if rest, ok := strings.CutPrefix(path, pair[0]); ok {
			out = append(out, pair[1]+rest)
		} else if rest, ok := strings.CutPrefix(path, pair[1]); ok {
			out = append(out, pair[0]+rest)
		}
	}
	return out
}

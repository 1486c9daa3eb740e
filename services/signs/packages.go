//go:build linux

package signs

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// packages answers which installed package owns a file, and the digest
// the package recorded for it, from the package database read directly:
// dpkg's (/var/lib/dpkg/info/*.list and *.md5sums) or, where there is none,
// rpm's (/var/lib/rpm/rpmdb.sqlite). It reads a database again when it
// changes.
type packages struct {
	root  string
	info  string // …/var/lib/dpkg/info
	stamp time.Time
	// owners indexes every path a package lists by its hash, to the
	// packages (as their .list files are named) listing a path with it;
	// a hit is confirmed in the package's list (listed), so no hash
	// collision ever names a wrong owner.
	owners map[uint64]int32   // hash → index in pkgs, or -1: several (then in clashes)
	clash  map[uint64][]int32 // the packages of each hash several list
	pkgs   []string
	seed   maphash.Seed
	listed map[string]map[string]bool   // package → the paths it lists, read when asked
	sums   map[string]map[string]string // package → path without the leading "/" → MD5
	rpm    *rpmDB
	hashes map[fileKey]string
}

type fileKey struct {
	dev, ino uint64
	size     int64
	mtime    int64
	algo     string
}

// digest is what a package recorded of a file's content.
type digest struct {
	algo string // "md5", "sha1", "sha256", "sha512"
	hex  string // "" when the package recorded none
}

func newPackages(root string) *packages {
	return &packages{root: root, info: filepath.Join(root, "var/lib/dpkg/info"), hashes: map[fileKey]string{},
		rpm: &rpmDB{path: filepath.Join(root, "var/lib/rpm/rpmdb.sqlite")}}
}

// errNoDatabase says why unpackaged and modified binaries cannot be told.
var errNoDatabase = errors.New("no package database (dpkg's /var/lib/dpkg, rpm's /var/lib/rpm) was found: whether binaries are packaged is not known")

// owner returns the package that owns exe and the digest it recorded; pkg
// is "" when no package owns it.
func (p *packages) owner(exe string) (pkg string, sum digest, err error) {
	err = p.load()
	if os.IsNotExist(err) {
		return p.rpmOwner(exe)
	}
	if err != nil {
		return "", digest{}, err
	}
	for _, alias := range aliases(exe) {
		for _, i := range p.listing(p.pathHash(alias)) {
			if pkg = p.pkgs[i]; p.lists(pkg)[alias] {
				return pkg, digest{"md5", p.sum(pkg, alias)}, nil
			}
		}
	}
	return "", digest{}, nil
}

// rpmOwner answers from rpm's database, on a host without dpkg's.
func (p *packages) rpmOwner(exe string) (string, digest, error) {
	if err := p.rpm.load(); err != nil {
		if !os.IsNotExist(err) {
			return "", digest{}, err
		}
		if err := rpmOther(p.root); err != nil {
			return "", digest{}, err
		}
		return "", digest{}, errNoDatabase
	}
	for _, alias := range aliases(exe) {
		if f, ok := p.rpm.files[alias]; ok {
			return f.pkg, digest{f.algo, f.digest}, nil
		}
	}
	return "", digest{}, nil
}

// load indexes the .list files, again when the directory changed.
func (p *packages) load() error {
	fi, err := os.Stat(p.info)
	if err != nil {
		return err // not there: rpm's is asked
	}
	if p.owners != nil && fi.ModTime().Equal(p.stamp) {
		return nil
	}
	lists, err := filepath.Glob(filepath.Join(p.info, "*.list"))
	if err != nil {
		return err
	}
	// A Debian system lists a hundred thousand paths: they are hashed,
	// not kept, and a list is read again only for a path asked about.
	owners, clash := make(map[uint64]int32, 1<<17), map[uint64][]int32{}
	seed := maphash.MakeSeed()
	pkgs := make([]string, 0, len(lists))
	buf := make([]byte, 0, 64<<10)
	nl := []byte{'\n'}
	for _, l := range lists {
		b, err := readInto(l, buf)
		if err != nil {
			continue // one unreadable list: its files read as unowned; the warning below says so
		}
		buf = b[:0]
		i := int32(len(pkgs))
		pkgs = append(pkgs, strings.TrimSuffix(filepath.Base(l), ".list"))
		for line := range bytes.Lines(b) {
			if path := bytes.TrimSuffix(line, nl); len(path) > 0 {
				h := maphash.Bytes(seed, path)
				switch first, ok := owners[h]; {
				case !ok:
					owners[h] = i
				case first == i:
				case first >= 0: // a path two packages list (a directory), or a clash
					owners[h], clash[h] = -1, []int32{first, i}
				case !slices.Contains(clash[h], i):
					clash[h] = append(clash[h], i)
				}
			}
		}
	}
	p.owners, p.clash, p.pkgs, p.seed, p.stamp = owners, clash, pkgs, seed, fi.ModTime()
	p.listed, p.sums = map[string]map[string]bool{}, map[string]map[string]string{}
	return nil
}

// listing returns the packages (indexes in pkgs) listing a path with hash
// h.
func (p *packages) listing(h uint64) []int32 {
	i, ok := p.owners[h]
	switch {
	case !ok:
		return nil
	case i < 0:
		return p.clash[h]
	}
	return []int32{i}
}

// lists returns the paths package pkg lists, read once.
func (p *packages) lists(pkg string) map[string]bool {
	paths, ok := p.listed[pkg]
	if !ok {
		paths = map[string]bool{}
		if b, err := os.ReadFile(filepath.Join(p.info, pkg+".list")); err == nil {
			for line := range strings.Lines(string(b)) {
				paths[strings.TrimSuffix(line, "\n")] = true
			}
		}
		p.listed[pkg] = paths
	}
	return paths
}

// pathHash is the index's key for a path under the index's seed (the
// runtime's hash: several times faster than a byte loop over the hundred
// thousand paths; the seed lives as long as the index).
func (p *packages) pathHash(path string) uint64 { return maphash.String(p.seed, path) }

// readInto reads the file at path into buf, growing it as needed.
func readInto(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf = buf[:0]
	// Grown once to the file's size where it is known: growing by
	// appends through a 4 MB list (google-cloud-cli's) left ~16 MB of
	// copies behind, a fifth of a large snapshot's peak heap.
	if fi, err := f.Stat(); err == nil && fi.Size() < 1<<30 {
		buf = slices.Grow(buf, int(fi.Size())+512)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
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

// hash hashes the file a process runs (procExe: /proc/PID/exe, which opens
// the very file, whatever the path now names) with algo, once per file.
func (p *packages) hash(procExe, algo string) (string, error) {
	newHash, ok := hashes[algo]
	if !ok {
		return "", fmt.Errorf("the package records a %s digest, which portwarden does not compute", algo)
	}
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
		k = fileKey{dev: uint64(st.Dev), ino: st.Ino, size: fi.Size(), mtime: fi.ModTime().UnixNano(), algo: algo}
		if h, ok := p.hashes[k]; ok {
			return h, nil
		}
	}
	h := newHash()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	p.hashes[k] = sum
	return sum, nil
}

// hashes are the digests packages record, by the names digest uses.
var hashes = map[string]func() hash.Hash{"md5": md5.New, "sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}

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

package sockets

// Changes lists the sockets that differ between two snapshots.
type Changes struct {
	Appeared []Socket // in the new snapshot only
	Vanished []Socket // in the old snapshot only
}

// Diff tells which sockets appeared and which vanished between old and new,
// matching them by ID. Either snapshot may be nil (empty).
func Diff(old, new *Snapshot) Changes {
	var c Changes
	seen := make(map[ID]struct{}, socketCount(old))
	if old != nil {
		for i := range old.Sockets {
			seen[old.Sockets[i].ID()] = struct{}{}
		}
	}
	current := make(map[ID]struct{}, socketCount(new))
	if new != nil {
		for i := range new.Sockets {
			id := new.Sockets[i].ID()
			current[id] = struct{}{}
			if _, ok := seen[id]; !ok {
				c.Appeared = append(c.Appeared, new.Sockets[i])
			}
		}
	}
	if old != nil {
		for i := range old.Sockets {
			if _, ok := current[old.Sockets[i].ID()]; !ok {
				c.Vanished = append(c.Vanished, old.Sockets[i])
			}
		}
	}
	return c
}

func socketCount(s *Snapshot) int {
	if s == nil {
		return 0
	}
	return len(s.Sockets)
}

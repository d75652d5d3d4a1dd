//! A set of device IDs below 128 (the device table's size), as one bit each: copying,
//! membership and iteration in order cost no allocation.

/// Device IDs `0..128`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DeviceSet(u128);

impl DeviceSet {
    /// No device.
    pub const EMPTY: DeviceSet = DeviceSet(0);

    /// True when `dev` is in the set (never for IDs of 128 and above).
    pub fn contains(self, dev: u16) -> bool {
        dev < 128 && self.0 & (1 << dev) != 0
    }

    /// Adds `dev`; IDs of 128 and above are ignored (no such device exists).
    pub fn insert(&mut self, dev: u16) {
        if dev < 128 {
            self.0 |= 1 << dev;
        }
    }

    /// Removes `dev`.
    pub fn remove(&mut self, dev: u16) {
        if dev < 128 {
            self.0 &= !(1 << dev);
        }
    }

    /// The lowest device, if any.
    pub fn first(self) -> Option<u16> {
        (self.0 != 0).then(|| self.0.trailing_zeros() as u16)
    }

    /// True when no device is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of devices.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The devices in increasing order.
    pub fn iter(self) -> impl Iterator<Item = u16> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let dev = bits.trailing_zeros() as u16;
                bits &= bits - 1;
                dev
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let mut set = DeviceSet::EMPTY;
        for dev in [5, 0, 127, 200] {
            set.insert(dev);
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 5, 127]);
        assert_eq!((set.len(), set.first()), (3, Some(0)));
        assert!(set.contains(127) && !set.contains(200) && !set.contains(1));
        set.remove(0);
        assert_eq!(set.first(), Some(5));
        set.remove(5);
        set.remove(127);
        assert!(set.is_empty());
        assert_eq!(set.first(), None);
    }
}

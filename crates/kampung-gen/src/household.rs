//! Who lives together, and when they were born.
//!
//! A household is one of: someone living alone (mostly elderly widows), a
//! couple without children at home, a couple with children (sometimes with a
//! grandparent), a single parent with children, or three generations; at
//! most seven people. Parents are 20 to 70 years old, children born when
//! their mother was 19 to 40-odd, grandparents when the parent was 20 to 40.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use time::Date;

use kampung_core::Sex;

use crate::dates::{day_in_year, AGE_YEAR, FIRST_BIRTH};

/// A member's place in the household (decides who carries the family name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Head,
    Spouse,
    Child,
    Elder,
    Single,
}

/// One member: sex and birth date, before NIK and name.
#[derive(Debug)]
pub struct Member {
    pub role: Role,
    pub sex: Sex,
    pub birth: Date,
}

/// Draws households from the village's random stream.
#[derive(Debug)]
pub struct Composer<'r> {
    pub rng: &'r mut ChaCha8Rng,
}

impl Composer<'_> {
    fn sex_female_share(&mut self, percent: u32) -> Sex {
        if self.rng.random_range(0..100u32) < percent {
            Sex::Female
        } else {
            Sex::Male
        }
    }

    fn born(&mut self, year: i32) -> Date {
        day_in_year(self.rng, year)
    }

    /// Birth year of an adult heading a household: 20 to 70 years old, most
    /// between 30 and 50.
    fn parent_year(&mut self) -> i32 {
        let age = match self.rng.random_range(0..100u32) {
            0..20 => self.rng.random_range(20..=29),
            20..48 => self.rng.random_range(30..=39),
            48..73 => self.rng.random_range(40..=49),
            73..90 => self.rng.random_range(50..=59),
            _ => self.rng.random_range(60..=70),
        };
        AGE_YEAR - age
    }

    /// Up to `count` children: the first born when the mother was 19 to 28,
    /// the next ones 2 to 6 years apart. Children not born yet are not
    /// there, and grown children have mostly left home.
    fn children(&mut self, members: &mut Vec<Member>, mother_year: i32, count: usize) {
        let mut year = mother_year + self.rng.random_range(19..=28);
        for _ in 0..count {
            if year > AGE_YEAR {
                break;
            }
            let age = AGE_YEAR - year;
            let at_home = age < 20 || (age <= 35 && self.rng.random_range(0..100u32) < 50);
            if at_home {
                let sex = self.sex_female_share(49);
                let birth = self.born(year);
                members.push(Member {
                    role: Role::Child,
                    sex,
                    birth,
                });
            }
            year += self.rng.random_range(2..=6);
        }
    }

    fn elder(&mut self, members: &mut Vec<Member>, child_year: i32) {
        // Born when the parent was 20 to 40; few live past 95, so parents
        // over 60 rarely have theirs at home.
        let from = (child_year - 40).max(AGE_YEAR - 95);
        let to = child_year - 20;
        if to < from || AGE_YEAR - child_year > 60 {
            return;
        }
        let year = self.rng.random_range(from..=to);
        let sex = self.sex_female_share(65);
        let birth = self.born(year);
        members.push(Member {
            role: Role::Elder,
            sex,
            birth,
        });
    }

    fn couple(&mut self, members: &mut Vec<Member>, husband: i32) -> (i32, i32) {
        let wife = (husband + self.rng.random_range(-2..=7)).clamp(AGE_YEAR - 70, AGE_YEAR - 20);
        let (hb, wb) = (self.born(husband), self.born(wife));
        members.push(Member {
            role: Role::Head,
            sex: Sex::Male,
            birth: hb,
        });
        members.push(Member {
            role: Role::Spouse,
            sex: Sex::Female,
            birth: wb,
        });
        (husband, wife)
    }

    fn child_count(&mut self, max: usize) -> usize {
        let n = match self.rng.random_range(0..100u32) {
            0..12 => 1,
            12..47 => 2,
            47..77 => 3,
            77..93 => 4,
            _ => 5,
        };
        n.min(max)
    }

    /// Who lives together: about 3.3 people per household on average.
    pub fn members(&mut self) -> Vec<Member> {
        let mut m = Vec::with_capacity(7);
        match self.rng.random_range(0..100u32) {
            // Living alone: mostly the elderly, mostly widows.
            0..9 => {
                let (year, sex) = if self.rng.random_range(0..10u32) < 6 {
                    // 55 to 98, fewer at each older age.
                    let span = AGE_YEAR - FIRST_BIRTH.year() - 55;
                    let age = 55
                        + (0..3)
                            .map(|_| self.rng.random_range(0..=span))
                            .min()
                            .unwrap_or(0);
                    (AGE_YEAR - age, self.sex_female_share(65))
                } else {
                    (
                        AGE_YEAR - self.rng.random_range(20..=40),
                        self.sex_female_share(40),
                    )
                };
                let birth = self.born(year);
                m.push(Member {
                    role: Role::Single,
                    sex,
                    birth,
                });
            }
            // A couple without children at home: newly wed, or their
            // children have left.
            9..19 => {
                let husband = if self.rng.random_bool(0.5) {
                    AGE_YEAR - self.rng.random_range(50..=70)
                } else {
                    self.parent_year()
                };
                self.couple(&mut m, husband);
            }
            // A couple with children, sometimes with a grandparent.
            19..82 => {
                let husband = self.parent_year();
                let (husband, wife) = self.couple(&mut m, husband);
                let k = self.child_count(5);
                self.children(&mut m, wife, k);
                if self.rng.random_range(0..100u32) < 18 {
                    let parent = if self.rng.random_bool(0.5) {
                        husband
                    } else {
                        wife
                    };
                    self.elder(&mut m, parent);
                }
            }
            // A single parent, mostly a mother.
            82..91 => {
                let sex = self.sex_female_share(80);
                let year = self.parent_year().max(AGE_YEAR - 65);
                let birth = self.born(year);
                m.push(Member {
                    role: Role::Head,
                    sex,
                    birth,
                });
                let k = self.child_count(3);
                let mother_year = if sex == Sex::Female { year } else { year + 3 };
                self.children(&mut m, mother_year, k);
            }
            // Three generations.
            _ => {
                let husband = self.parent_year();
                let (husband, wife) = self.couple(&mut m, husband);
                let k = self.child_count(4);
                self.children(&mut m, wife, k);
                self.elder(&mut m, husband);
                if self.rng.random_bool(0.4) {
                    self.elder(&mut m, wife);
                }
            }
        }
        m.truncate(7);
        m
    }
}

"""The shop's data and rules: database models and migrations, settings, orders, tickets, staff, imports."""

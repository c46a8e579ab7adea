"""Neural-network building blocks shared by the course models."""
